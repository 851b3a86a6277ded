"""A stand-in for WeChat's API server during tests/schemathesis.sh: every login code is a
user (its openid derived from the code), tokens are granted, content passes and subscribe
messages are accepted, so the fuzzer reaches Linli's own code instead of `wechat_unavailable`."""
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Handler(BaseHTTPRequestHandler):
    def answer(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        if url.path.endswith("/sns/jscode2session"):
            code = parse_qs(url.query).get("js_code", [""])[0]
            openid = "wx-" + hashlib.sha256(code.encode()).hexdigest()[:24]
            self.answer({"openid": openid, "session_key": "k"})
        else:
            self.answer({"errcode": 0, "errmsg": "ok"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        path = urlparse(self.path).path
        if path.endswith("/cgi-bin/stable_token"):
            self.answer({"access_token": "fake-token", "expires_in": 7200})
        elif path.endswith("/wxa/msg_sec_check"):
            self.answer({"errcode": 0, "errmsg": "ok", "result": {"suggest": "pass", "label": 100}})
        else:
            self.answer({"errcode": 0, "errmsg": "ok"})

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
