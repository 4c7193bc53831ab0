"""A WSGI upstream for the gateway's tests (Python stdlib only).

It serves on 127.0.0.1 on the port the OS picks, prints that port on the first line of
stdout, and answers every request with a JSON object of its environ's HTTP_* keys: what
a CGI/WSGI application believes the request headers are (wsgiref reads "_" and "-" in
header names as the same character). It runs until it is killed.
"""
import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    headers = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    body = json.dumps(headers, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, handler_class=QuietHandler)
    print(server.server_port, flush=True)
    sys.stdout.close()
    server.serve_forever()
