"""Blob stores and media externalization, all or nothing (spec §6.5, CONV-060..CONV-062)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from tests.conversation.conv_helpers import assistant, dumped, image_user, result, user

from sessionspec import (
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    Conversation,
    FileBlobStore,
    MemoryBlobStore,
)
from sessionspec.errors import CallerError
from sessionspec.reference.conversation import transcript_digest

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
PNG_B64 = base64.b64encode(PNG).decode()


class FailingStore(MemoryBlobStore):
    """Fails on the n-th put."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.puts = 0

    def put(self, data: bytes) -> str:
        self.puts += 1
        if self.puts == self.fail_at:
            raise BlobStoreError("disk full")
        return super().put(data)


@pytest.mark.req("CONV-062")
@pytest.mark.parametrize("kind", ["memory", "file"])
def test_blob_store_is_content_addressed(kind: str, tmp_path: Path) -> None:
    store: BlobStore = MemoryBlobStore() if kind == "memory" else FileBlobStore(tmp_path)
    blob_id = store.put(PNG)
    assert blob_id == "sha256:" + hashlib.sha256(PNG).hexdigest()
    assert store.put(PNG) == blob_id and store.exists(blob_id)
    assert store.get(blob_id) == PNG
    assert store.delete(blob_id) is True and store.delete(blob_id) is False
    assert not store.exists(blob_id)
    with pytest.raises(BlobNotFoundError):
        store.get(blob_id)
    with pytest.raises(CallerError):
        store.get("sha256:../../etc/passwd")
    with pytest.raises(CallerError):
        store.put("text")  # type: ignore[arg-type]


@pytest.mark.req("CONV-062")
def test_file_blob_store_detects_damage_and_leaves_no_temporary(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    blob_id = store.put(PNG)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and not files[0].name.startswith(".")
    files[0].write_bytes(b"changed")
    with pytest.raises(BlobStoreError, match="damaged"):
        store.get(blob_id)


@pytest.mark.req("CONV-060", "CONV-061")
def test_externalize_media_moves_inline_images(tmp_path: Path) -> None:
    conv = Conversation.new()
    conv.push_batch([
        image_user(PNG_B64),
        assistant("a", "c1"),
        {**result("c1"), "content": [{"type": "image", "media_type": "image/png",
                                      "source": {"type": "bytes", "data": list(PNG[:8])}}]},
    ])
    stamp = conv.updated_at_ns
    store = FileBlobStore(tmp_path)
    assert conv.externalize_media(store) == 2
    assert len(conv) == 3 and conv.updated_at_ns == stamp
    user_block = dumped(conv.messages)[0]["content"][1]
    blob_id = "sha256:" + hashlib.sha256(PNG).hexdigest()
    assert user_block == {"type": "image", "source": {"type": "url", "url": "ss-blob:" + blob_id},
                          "media_type": "image/png"}
    assert store.get(blob_id) == PNG
    assert conv.externalize_media(store) == 0


@pytest.mark.req("CONV-060")
def test_externalize_media_is_all_or_nothing() -> None:
    conv = Conversation.new()
    second = base64.b64encode(b"2").decode()
    conv.push_batch([image_user(PNG_B64), assistant("a"), image_user(second)])
    before = dumped(conv.messages)
    revision = conv.transcript_revision()
    with pytest.raises(BlobStoreError):
        conv.externalize_media(FailingStore(fail_at=2))
    assert dumped(conv.messages) == before and conv.transcript_revision() == revision
    bad = Conversation.new()
    bad.push(image_user("not base64!!"))
    with pytest.raises(CallerError, match="base64"):
        bad.externalize_media(MemoryBlobStore())


@pytest.mark.req("CONV-060", "CONV-032")
def test_externalize_from_start_and_implicit_revision() -> None:
    conv = Conversation.new()
    conv.push_batch([image_user(PNG_B64), user("x"), image_user(PNG_B64)])
    conv.commit_transcript_rewrite((1, 2), [user("y")], "edit")
    head = conv.transcript_revision()
    assert conv.externalize_media(MemoryBlobStore(), start=1) == 1
    messages = dumped(conv.messages)
    assert messages[0]["content"][1]["source"]["type"] == "base64"
    assert messages[2]["content"][1]["source"]["type"] == "url"
    history = conv.transcript_history()
    assert history is not None
    assert history.head == transcript_digest(None, messages) != head
    assert history.bodies[history.head].parent_revision == head
    fork = conv.fork()
    assert dumped(fork.messages) == messages
