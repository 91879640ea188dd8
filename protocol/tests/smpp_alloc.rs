//! "No allocation larger than the PDU on any input": submit_multi / submit_multi_resp with the most entries
//! the smallest wire form allows decode without allocating per entry (a counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use smsbridge_protocol::smpp::{Body, DestAddress, Pdu};

struct Counting;

thread_local! {
    /// (octets, allocations) asked for by this thread: tests run on several threads at once.
    static ALLOCATED: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

fn count(size: usize) {
    let _ = ALLOCATED.try_with(|c| {
        let (b, n) = c.get();
        c.set((b + size, n + 1));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn pdu(command_id: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&command_id.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(&1u32.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// `f`'s value and the (octets, allocations) it asked for.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let (b0, n0) = ALLOCATED.with(Cell::get);
    let v = f();
    let (b1, n1) = ALLOCATED.with(Cell::get);
    (v, b1 - b0, n1 - n0)
}

#[test]
fn submit_multi_with_254_minimal_entries_allocates_nothing() {
    // service_type "", source ton/npi, source_addr "", number_of_dests 254, then 254 SME entries of 4 octets
    // (dest_flag, ton, npi, empty destination_addr) and the empty rest of the body.
    let mut body = vec![0, 1, 1, 0, 254];
    for _ in 0..254 {
        body.extend_from_slice(&[1, 1, 1, 0]);
    }
    body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let wire = pdu(0x21, &body);
    assert!(wire.len() < 1100);

    // The counter sees what an owned copy of the entries would cost.
    let (_, octets, _) = measure(|| std::hint::black_box(vec![0u64; 254]));
    assert!(octets >= 254 * 8);

    let (p, octets, count) = measure(|| Pdu::decode(&wire));
    let p = p.expect("decodes");
    assert_eq!(
        (octets, count),
        (0, 0),
        "decoding allocated {octets} octets in {count} allocations"
    );
    let Body::SubmitMulti(m) = &p.body else {
        panic!("{:?}", p.command_id())
    };
    assert_eq!(m.dest_address.len(), 254);
    // Walking the entries allocates nothing either: they borrow from the wire.
    let (n, octets, _) = measure(|| {
        m.dest_address
            .iter()
            .filter(|d| {
                matches!(d, DestAddress::Sme { destination_addr, .. } if destination_addr.is_empty())
            })
            .count()
    });
    assert_eq!((n, octets), (254, 0));
    assert_eq!(p.to_vec(), wire);
    p.validate().expect("valid");
}

#[test]
fn submit_multi_resp_with_255_minimal_entries_allocates_nothing() {
    // message_id "", no_unsuccess 255, entries of 7 octets (ton, npi, empty address, error_status_code).
    let mut body = vec![0, 255];
    for _ in 0..255 {
        body.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0x0b]);
    }
    let wire = pdu(0x8000_0021, &body);
    let (p, octets, count) = measure(|| Pdu::decode(&wire));
    let p = p.expect("decodes");
    assert_eq!((octets, count), (0, 0));
    let Body::SubmitMultiResp(r) = &p.body else {
        panic!("{:?}", p.command_id())
    };
    let list = r.unsuccess_sme.as_ref().expect("list");
    assert_eq!(list.len(), 255);
    assert_eq!(list.iter().count(), 255);
    assert_eq!(p.to_vec(), wire);
}
