"""The FastAPI application of a node."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from opendepin import __version__
from opendepin.api.routes import devices, entropy, epochs, health, reports
from opendepin.node import Node


def create_app(node: Node) -> FastAPI:
    app = FastAPI(title="opendepin node", version=__version__)
    app.state.node = node
    for module in (reports, devices, epochs, entropy, health):
        app.include_router(module.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:10]]
        return JSONResponse(
            status_code=422, content={"reason": "request.invalid", "message": "; ".join(problems)}
        )

    return app
