"""A tiny raw HTTP/1.1 client for framing tests: exact bytes out, responses parsed by hand."""
import gzip
import socket


class Response:
    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def text(self):
        body = gzip.decompress(self.body) if self.header("Content-Encoding") == "gzip" else self.body
        return body.decode()


class Reader:
    """Reads successive responses from one socket, keeping bytes that arrive early (pipelining)."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        version, status, reason = lines[0].split(" ", 2)
        headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
        response = Response(int(status), reason, headers, b"")
        if status.startswith("1") or head_request:
            return response
        length = int(response.header("Content-Length") or 0)
        while len(self.buffer) < length:
            self._fill()
        response.body, self.buffer = self.buffer[:length], self.buffer[length:]
        return response

    def closed(self):
        """True when the server closed the connection (EOF, or a reset after it)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def post(target="SageMaker.DescribeCluster", body=b"{}", extra=b""):
    """The bytes of an AWS JSON 1.1 POST."""
    return (
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n"
        + b"X-Amz-Target: " + target.encode() + b"\r\n"
        + extra
        + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
