"""An SMPP client we did not write (PyPI `smpplib`) against our SMSC simulator.

Usage: python smpplib_client.py HOST PORT SYSTEM_ID PASSWORD COUNT
Binds as transceiver, submits COUNT messages asking for receipts, waits (bounded) for every receipt,
unbinds, and prints one JSON summary line: {"submitted": N, "message_ids": [...], "receipts": [...]}.
Exit status 0 when every submit got a message id and a receipt came back for each of them.
"""
import json
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm


def main():
    host, port, system_id, password, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    client = smpplib.client.Client(host, port, timeout=10)
    message_ids = []
    receipts = []

    def on_sent(pdu):
        message_ids.append(pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id)

    def on_deliver(pdu):
        receipts.append({
            "esm_class": pdu.esm_class,
            "short_message": pdu.short_message.decode("latin-1"),
            "receipted_message_id": (pdu.receipted_message_id.decode()
                                     if isinstance(pdu.receipted_message_id, bytes) else pdu.receipted_message_id),
            "message_state": pdu.message_state,
        })

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_deliver)
    client.connect()
    client.bind_transceiver(system_id=system_id, password=password)
    for i in range(count):
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_INTL,
            source_addr="15550001",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            destination_addr="4915112345%03d" % i,
            short_message=("smpplib interop %d" % i).encode(),
            registered_delivery=1,
        )
        client.read_once()
    deadline = time.time() + 20
    while (len(message_ids) < count or len(receipts) < count) and time.time() < deadline:
        client.read_once()
    client.unbind()
    client.disconnect()
    print(json.dumps({"submitted": count, "message_ids": message_ids, "receipts": receipts}))
    ok = len(message_ids) == count and len(receipts) >= count
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
