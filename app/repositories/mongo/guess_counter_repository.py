"""Wrong-guess counters in MongoDB."""

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.db.mongo import Document
from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.models.guess_window import GuessWindow
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error


class MongoGuessCounterRepository(MongoRepository, GuessCounterRepository):
    """Each guess is one atomic update of one document: counting on in the open window,
    or opening a new one; the TTL index removes a document once its window has closed."""

    collection_name = "guess_counters"

    async def hit(self, key: str, now: datetime, window_seconds: int) -> GuessWindow:
        window = timedelta(seconds=window_seconds)
        threshold = now - window
        async with unavailable_as_domain_error():
            while True:
                counted = await self._collection.find_one_and_update(
                    {"_id": key, "window_start": {"$gt": threshold}},
                    {"$inc": {"count": 1}},
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
                if counted is not None:
                    return self._to_window(counted, window)
                fresh = {"window_start": now, "count": 1, "expires_at": now + window}
                reopened = await self._collection.find_one_and_update(
                    {"_id": key, "window_start": {"$lte": threshold}},
                    {"$set": fresh},
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
                if reopened is not None:
                    return self._to_window(reopened, window)
                try:
                    await self._collection.insert_one(
                        {"_id": key, **fresh}, session=self._session()
                    )
                except DuplicateKeyError:
                    continue  # a concurrent first guess created it: count on in its window
                return GuessWindow(count=1, resets_at=now + window)

    async def release(self, key: str) -> None:
        async with unavailable_as_domain_error():
            await self._collection.update_one(
                {"_id": key, "count": {"$gt": 0}},
                {"$inc": {"count": -1}},
                session=self._session(),
            )

    @staticmethod
    def _to_window(document: Document, window: timedelta) -> GuessWindow:
        start: datetime = document["window_start"]
        return GuessWindow(count=document["count"], resets_at=start + window)
