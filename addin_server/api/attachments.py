"""REST API of attachments: files uploaded from compose (multipart/form-data, field `file`),
kept in the database until the email that names them (`attachment_ids` of
POST /tasks/{id}/send) has gone out, and after (a retry or a reconciliation never finds them
gone). At most 25 MB per email, the smaller of Gmail's and Graph's limits (mailboxes/port.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from addin_server.api.common import api_blueprint, current_rep
from addin_server.mailboxes.port import MAX_ATTACHMENTS_BYTES, MAX_ATTACHMENTS_MB
from addin_server.models import Attachment
from addin_server.web.common import ApiError, db, not_found, now

bp = api_blueprint("api_attachments", __name__)

_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\"\\/]")
# The form's own overhead (boundaries, part headers) on top of the file itself.
_FORM_OVERHEAD = 64 * 1024


def attachment_json(row: Attachment) -> dict[str, Any]:
    return {"id": row.id, "filename": row.filename, "content_type": row.content_type,
            "size": row.size, "send_id": row.send_id}


def clean_filename(name: str) -> str:
    """The name a recipient sees: no directories, no control characters or quotes."""
    base = re.split(r"[\\/]", name)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip().strip(".")
    return base[-255:] or "attachment"


def clean_content_type(value: str) -> str:
    value = (value or "").split(";")[0].strip().lower()
    return value if _CONTENT_TYPE.fullmatch(value) else "application/octet-stream"


@bp.post("/attachments")
def upload_attachment() -> ResponseReturnValue:
    # This endpoint alone takes bodies up to the attachment limit (8 MB elsewhere).
    request.max_content_length = MAX_ATTACHMENTS_BYTES + _FORM_OVERHEAD
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "send the file as multipart/form-data, in the field `file`")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "is required: a file", "file")
    data = upload.read(MAX_ATTACHMENTS_BYTES + 1)
    if len(data) > MAX_ATTACHMENTS_BYTES:
        raise ApiError(413, f"a file is at most {MAX_ATTACHMENTS_MB} MB", "file")
    if not data:
        raise ApiError(422, "the file is empty", "file")
    rep = current_rep()
    row = Attachment(org_id=rep.org_id, rep_id=rep.id, filename=clean_filename(upload.filename),
                     content_type=clean_content_type(upload.mimetype), size=len(data),
                     data=data, created_at=now())
    db().add(row)
    db().flush()
    return jsonify(attachment_json(row)), 201


def _own(attachment_id: int) -> Attachment:
    row = db().get(Attachment, attachment_id)
    rep = current_rep()
    if row is None or row.org_id != rep.org_id or row.rep_id != rep.id:
        not_found()
    return row


@bp.get("/attachments/<int:attachment_id>")
def get_attachment(attachment_id: int) -> ResponseReturnValue:
    return jsonify(attachment_json(_own(attachment_id)))


@bp.delete("/attachments/<int:attachment_id>")
def delete_attachment(attachment_id: int) -> ResponseReturnValue:
    """Remove a file not yet on an email (one on an email stays with it)."""
    row = _own(attachment_id)
    if row.send_id is not None:
        raise ApiError(409, "it is attached to an email handed to the outbox", "send_id")
    db().delete(row)
    return "", 204
