"""Keeps the key store's tables in their own database (alias "keystore")."""

from __future__ import annotations

KEYSTORE_DB = "keystore"
KEYSTORE_MODELS = {"datakey", "masterkeycheck", "wrappedsecret"}


def _is_keystore(model) -> bool:
    return model._meta.app_label == "privacy" and model._meta.model_name in KEYSTORE_MODELS


class KeyStoreRouter:
    def db_for_read(self, model, **hints):
        return KEYSTORE_DB if _is_keystore(model) else None

    def db_for_write(self, model, **hints):
        return KEYSTORE_DB if _is_keystore(model) else None

    def allow_relation(self, obj1, obj2, **hints):
        if _is_keystore(type(obj1)) or _is_keystore(type(obj2)):
            return _is_keystore(type(obj1)) and _is_keystore(type(obj2))
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if app_label == "privacy" and model_name in KEYSTORE_MODELS:
            return db == KEYSTORE_DB
        if db == KEYSTORE_DB:
            return False
        return None
