"""An ms-swift plugin for `swift deploy --api_key`: a request with a missing or wrong key is
answered 401 Unauthorized (with `WWW-Authenticate: Bearer`, the OpenAI error shape), where
ms-swift 4.6 answers 400 Bad Request. OpenAI clients raise an authentication error on 401 and
a generic bad-request error on 400, so the user is told what is wrong.

Loaded by `swift deploy --external_plugins <this file>` (ms-swift imports it while parsing
the arguments, before the server installs its key check). It replaces only how the refusal is
answered; which paths are exempt and how the key is compared stay ms-swift's own. Where that
check is not found (another ms-swift version), it changes nothing: ms-swift's answer stands.
This file runs inside ms-swift's process.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Request
from fastapi.responses import JSONResponse

try:
    from swift.pipelines.infer.deploy import SwiftDeploy
except ImportError:  # another layout: leave ms-swift as it is
    SwiftDeploy = None


def _install_auth_middleware(self) -> None:
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


if (
    SwiftDeploy is not None
    and hasattr(SwiftDeploy, "_install_auth_middleware")
    and hasattr(SwiftDeploy, "_check_api_key")
    and hasattr(SwiftDeploy, "_AUTH_EXEMPT_PATHS")
):
    SwiftDeploy._install_auth_middleware = _install_auth_middleware
