"""An ms-swift plugin for `swift deploy` with an API key, used by `swiftkit serve --api-key`.

- The key comes from $SWIFTKIT_SERVE_API_KEY, not from `--api_key KEY` on the command line:
  ms-swift writes its whole command line and arguments into its log (the run folder's
  serve-PORT.log), and any user of the machine can read a command line in `ps`.
- A request with a missing or wrong key is answered 401 Unauthorized (`WWW-Authenticate:
  Bearer`, the OpenAI error shape), where ms-swift 4.6 answers 400 Bad Request: OpenAI clients
  raise an authentication error on 401 and a generic bad-request error on 400.

Loaded by `swift deploy --external_plugins <this file>` (ms-swift imports it while parsing
the arguments, before the server installs its key check). Which paths are exempt and how the
key is compared stay ms-swift's own (`_AUTH_EXEMPT_PATHS`, `_check_api_key`). Where those are
not found (another ms-swift version) and a key is set, it stops the server rather than serve
without the key. This file runs inside ms-swift's process.
"""

from __future__ import annotations

import os
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse

try:
    from swift.pipelines.infer.deploy import SwiftDeploy
except ImportError:  # another layout: leave ms-swift as it is
    SwiftDeploy = None


KEY_ENV = "SWIFTKIT_SERVE_API_KEY"
NEEDED = ("_install_auth_middleware", "_check_api_key", "_AUTH_EXEMPT_PATHS")


def _install_auth_middleware(self) -> None:
    if not self.args.api_key and os.environ.get(KEY_ENV):
        self.args.api_key = os.environ[KEY_ENV]  # ms-swift's own check reads it from here
    if not self.args.api_key:
        return

    @self.app.middleware("http")
    async def _auth_middleware(request: Request, call_next):
        if request.url.path not in self._AUTH_EXEMPT_PATHS:
            message = self._check_api_key(request)
            if message:
                return JSONResponse(
                    {
                        "error": {
                            "message": f"{message}: send `Authorization: Bearer <key>`",
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                        },
                        "object": "error",
                    },
                    status_code=HTTPStatus.UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return await call_next(request)


if SwiftDeploy is not None and all(hasattr(SwiftDeploy, name) for name in NEEDED):
    SwiftDeploy._install_auth_middleware = _install_auth_middleware
elif os.environ.get(KEY_ENV):
    raise RuntimeError(
        "swiftkit: this ms-swift has no SwiftDeploy API key check to hook into "
        f"({', '.join(NEEDED)}); refusing to serve without the key"
    )
