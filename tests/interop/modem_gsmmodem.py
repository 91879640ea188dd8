"""Drives smsbridge's simulated modem with python-gsmmodem-new, a modem client we did not write.

Usage: modem_gsmmodem.py <pty>. Prints one JSON line per phase; waits for a line on stdin between
"sent" and "receive" so the test can inject an incoming message.
"""
import json
import sys
import threading

from gsmmodem.modem import GsmModem

port = sys.argv[1]
received = []
reports = []
got_sms = threading.Event()
got_report = threading.Event()


def on_sms(sms):
    received.append({"number": sms.number, "text": sms.text})
    got_sms.set()


def on_report(report):
    reports.append({"reference": report.reference, "number": report.number,
                    "status": report.status, "delivered": report.status == report.DELIVERED})
    got_report.set()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


modem = GsmModem(port, 115200, smsReceivedCallbackFunc=on_sms,
                 smsStatusReportCallback=on_report, requestDelivery=True)
modem.smsTextMode = False
modem.connect(waitingForModemToStartInSeconds=5)
try:
    stored = modem.listStoredSms(delete=False)
    emit({
        "phase": "connected",
        "imei": modem.imei,
        "imsi": modem.imsi,
        "signal": modem.signalStrength,
        "network": modem.networkName,
        "smsc": modem.smsc,
        "stored": [{"number": s.number, "text": s.text} for s in stored],
    })
    first = modem.sendSms("+46701234567", "hello from python-gsmmodem")
    got_report.wait(15)
    second = modem.sendSms("+46701234568", "x" * 200)
    emit({"phase": "sent", "references": [first.reference, second.reference], "reports": reports})
    sys.stdin.readline()
    got_sms.wait(15)
    emit({"phase": "receive", "received": received})
finally:
    modem.close()
