"""Peer side of tests/sms_differential.rs: answers a JSON array of requests (stdin) with a JSON array of
results (stdout), using python-gsmmodem-new (gsmmodem.pdu) and gsm0338, implementations smsbridge did not write.

Requests:
  {"op": "submit", "number": str, "text": str, "reference": int}
      -> {"pdus": [hex, ...]}  (encodeSmsSubmitPdu, no SMSC, no status report, no validity)
  {"op": "decode", "hex": str}
      -> {"type", "number", "text", "concat": [reference, parts, number] | null}
  {"op": "gsm0338", "text": str, "spanish": bool}
      -> {"septets": hex}  (codec encode; the Spanish single shift table when asked)
  {"op": "gsm0338_decode", "septets": hex, "spanish": bool} -> {"text": str}
Any exception becomes {"error": str}.
"""
import json
import sys

import gsm0338
from gsmmodem import pdu as gp


def codec(spanish):
    if spanish:
        return gsm0338.Codec(single_shift_decode_map=gsm0338.SINGLE_SHIFT_CHARACTER_SET_SPANISH)
    return gsm0338.Codec()


def answer(req):
    op = req["op"]
    if op == "submit":
        pdus = gp.encodeSmsSubmitPdu(req["number"], req["text"], reference=req["reference"],
                                     requestStatusReport=False)
        return {"pdus": [bytes(p.data).hex().upper() for p in pdus]}
    if op == "decode":
        d = gp.decodeSmsPdu(req["hex"])
        concat = None
        for ie in d.get("udh", []) or []:
            if isinstance(ie, gp.Concatenation):
                concat = [ie.reference, ie.parts, ie.number]
        return {"type": d["type"], "number": d["number"], "text": d.get("text"), "concat": concat}
    if op == "gsm0338":
        return {"septets": codec(req["spanish"]).encode(req["text"])[0].hex().upper()}
    if op == "gsm0338_decode":
        return {"text": codec(req["spanish"]).decode(bytes.fromhex(req["septets"]))[0]}
    raise ValueError("unknown op " + op)


def main():
    out = []
    for req in json.load(sys.stdin):
        try:
            out.append(answer(req))
        except Exception as e:  # report, do not stop the batch
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
