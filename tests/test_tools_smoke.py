"""The test tools themselves: Google's Pub/Sub emulator starts and answers."""

from __future__ import annotations

import os


def test_pubsub_emulator_starts_and_creates_a_topic(pubsub_emulator: str) -> None:
    from google.cloud import pubsub_v1

    os.environ["PUBSUB_EMULATOR_HOST"] = pubsub_emulator
    try:
        publisher = pubsub_v1.PublisherClient()
        topic = publisher.create_topic(name="projects/dirsync-test/topics/chat")
        assert topic.name.endswith("/topics/chat")
    finally:
        del os.environ["PUBSUB_EMULATOR_HOST"]
