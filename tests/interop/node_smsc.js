// A small SMSC built on node's `smpp` package (npm), used by the interop tests of our ESME link.
// Usage: node node_smsc.js [PORT]   (0 or nothing: any free port)
// Prints "LISTENING <port>" once, then one JSON object per line for everything it sees.
// Accepts binds for system_id "interop" / password "secret"; answers submit_sm with a hex message id and,
// when registered_delivery asks for it, sends a receipt as deliver_sm (text and TLVs) 50 ms later.
'use strict';
const smpp = require('smpp');

const port = parseInt(process.argv[2] || '0', 10);
let nextId = 0x1000;

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function receiptText(id, text) {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  const date = pad(now.getUTCFullYear() % 100) + pad(now.getUTCMonth() + 1) + pad(now.getUTCDate()) +
    pad(now.getUTCHours()) + pad(now.getUTCMinutes());
  return `id:${id} sub:001 dlvrd:001 submit date:${date} done date:${date} stat:DELIVRD err:000 text:${text.slice(0, 20)}`;
}

const server = smpp.createServer(function (session) {
  const onBind = (kind) => (pdu) => {
    if (pdu.system_id !== 'interop' || pdu.password !== 'secret') {
      log({ event: 'bind_refused', kind, system_id: pdu.system_id });
      session.send(pdu.response({ command_status: smpp.ESME_RBINDFAIL }));
      session.close();
      return;
    }
    session.send(pdu.response({ system_id: 'nodesmsc' }));
    log({ event: 'bind', kind, system_id: pdu.system_id });
  };
  session.on('bind_transceiver', onBind('transceiver'));
  session.on('bind_transmitter', onBind('transmitter'));
  session.on('bind_receiver', onBind('receiver'));

  session.on('submit_sm', function (pdu) {
    const id = (nextId++).toString(16);
    const sm = pdu.short_message || {};
    const text = typeof sm === 'string' ? sm : (sm.message !== undefined ? String(sm.message) : '');
    session.send(pdu.response({ message_id: id }));
    log({
      event: 'submit_sm', sequence_number: pdu.sequence_number, message_id: id,
      source_addr: pdu.source_addr, destination_addr: pdu.destination_addr,
      data_coding: pdu.data_coding, esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery, text,
    });
    if ((pdu.registered_delivery & 0x03) !== 0) {
      setTimeout(function () {
        session.deliver_sm({
          source_addr: pdu.destination_addr,
          destination_addr: pdu.source_addr,
          esm_class: 0x04,
          short_message: receiptText(id, text),
          receipted_message_id: id,
          message_state: 2,
        }, function (resp) {
          log({ event: 'deliver_sm_resp', message_id: id, command_status: resp.command_status });
        });
      }, 50);
    }
  });
  session.on('enquire_link', function (pdu) {
    session.send(pdu.response());
    log({ event: 'enquire_link' });
  });
  session.on('unbind', function (pdu) {
    session.send(pdu.response());
    log({ event: 'unbind' });
    session.close();
  });
  session.on('error', function (err) {
    log({ event: 'error', message: String(err) });
  });
});

server.listen(port, '127.0.0.1', function () {
  log({ event: 'listening', port: server.address().port });
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
// Bounded life: a test that forgets us does not leave us running.
setTimeout(() => process.exit(0), 120000).unref();
