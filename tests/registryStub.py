# This file is part of ap_alerts.
#
# Developed for the LSST Data Management System.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""A stand-in Confluent Schema Registry for the tests (not a test module).

No schema registry can be installed here. `RegistryStub` is a
standard-library HTTP server on 127.0.0.1, in a thread of the test process,
implementing the one endpoint the pre-flight check uses,
``GET /schemas/ids/{id}``, as the registry answers it: JSON whose
``"schema"`` member is the schema as a string, or 404 with the registry's
error document.
"""

__all__ = ["RegistryStub"]

import http.server
import json
import threading


class RegistryStub:
    """Stand-in for a Confluent Schema Registry: ``GET /schemas/ids/{id}`` only.

    Parameters
    ----------
    schemas : `dict` [`int`, `str`]
        Schema string per ID; other IDs answer 404 (error code 40403, as the
        registry does).
    """

    def __init__(self, schemas, status=None, body=None):
        self.schemas = schemas
        self.requests = []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                stub.requests.append(self.path)
                prefix = "/schemas/ids/"
                schemaId = self.path[len(prefix) :] if self.path.startswith(prefix) else ""
                if status is not None:
                    self.answer(status, body)
                elif schemaId.isdigit() and int(schemaId) in stub.schemas:
                    self.answer(200, json.dumps({"schema": stub.schemas[int(schemaId)]}).encode())
                else:
                    self.answer(404, b'{"error_code":40403,"message":"Schema not found"}')

            def answer(self, code, data):
                self.send_response(code)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
