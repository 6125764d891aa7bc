"""The route a time-limited link points at: public, the signed token is the credential."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from core.links import LinkSigner
from hub.api.deps import Hub
from hub.links import fetch_by_link

router = APIRouter(prefix="/api/v1")


@router.get("/links/{token}", summary="A package, fetched with a time-limited signed link",
            responses={404: {"description": "link_invalid or link_expired"}})
async def fetch_link(token: str, hub: Hub) -> Response:
    # no role: whoever holds the link (sent to the unit's mailbox) may fetch until it expires
    signer = LinkSigner.from_settings(hub.settings.links)
    body, form, message_id = await run_in_threadpool(fetch_by_link, signer, hub.db,
                                                     hub.sealer, token)
    extension = "json" if form.value == "json" else "edxml"
    return Response(body, media_type=form.media_type, headers={
        "Content-Disposition": f'attachment; filename="{message_id}.{extension}"',
        "Cache-Control": "no-store"})
