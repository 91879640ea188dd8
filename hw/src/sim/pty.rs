//! A pseudo-terminal pair for the simulator: the master end stays here, the slave's path is what a client
//! (our driver through tokio-serial, smsd, python-gsmmodem) opens, like a USB modem's `/dev/ttyUSBn`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use tokio::io::unix::AsyncFd;

/// The master end of a pseudo-terminal in raw mode, non-blocking, driven by tokio.
#[derive(Debug)]
pub struct Pty {
    master: AsyncFd<OwnedFd>,
    /// Held open so that reads on the master block (instead of failing with EIO) while no client has the
    /// slave open, as a modem's port exists whether or not someone listens.
    _slave: OwnedFd,
    path: PathBuf,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn make_raw(fd: RawFd) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it and we pass it back unchanged but for cfmakeraw.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(fd, &mut t))?;
        libc::cfmakeraw(&mut t);
        check(libc::tcsetattr(fd, libc::TCSANOW, &t))?;
    }
    Ok(())
}

impl Pty {
    /// Opens a new pair (openpty), puts it in raw mode (no echo, no line editing, no CR/LF mapping) and
    /// the master in non-blocking mode.
    pub fn open() -> io::Result<Pty> {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: out-pointers are valid; name is large enough for /dev/pts/N (openpty writes a C string).
        check(unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                name.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
            )
        })?;
        // SAFETY: openpty succeeded: both are fresh descriptors we now own.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        // SAFETY: openpty wrote a NUL-terminated name into the buffer.
        let path = unsafe { CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        make_raw(slave.as_raw_fd())?;
        make_raw(master.as_raw_fd())?;
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = check(libc::fcntl(master.as_raw_fd(), libc::F_GETFL))?;
            check(libc::fcntl(
                master.as_raw_fd(),
                libc::F_SETFL,
                flags | libc::O_NONBLOCK,
            ))?;
        }
        // SAFETY: `master` is an OwnedFd that the AsyncFd owns until it is dropped; its descriptor stays
        // open and the same for that whole time.
        let master = unsafe { AsyncFd::register(master) }.map_err(|e| e.into_parts().1)?;
        Ok(Pty {
            master,
            _slave: slave,
            path: PathBuf::from(path),
        })
    }

    /// The slave's path (`/dev/pts/N`): what clients open.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Reads what the client wrote; cancel-safe.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            let res = guard.try_io(|fd| {
                // SAFETY: buf is valid for buf.len() bytes.
                let n = unsafe {
                    libc::read(fd.get_ref().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(usize::try_from(n).unwrap_or(0))
                }
            });
            match res {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` to the client.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.master.writable().await?;
            let res = guard.try_io(|fd| {
                // SAFETY: data is valid for data.len() bytes.
                let n = unsafe {
                    libc::write(fd.get_ref().as_raw_fd(), data.as_ptr().cast(), data.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(usize::try_from(n).unwrap_or(0))
                }
            });
            match res {
                Ok(Ok(n)) => data = data.get(n..).unwrap_or_default(),
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}
