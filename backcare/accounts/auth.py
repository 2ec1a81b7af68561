from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token auth without its per-request scan of all the user's tokens.

    knox deletes every expired token of the user on each request (a query per request and a
    delete per token); here only the presented token is checked, and expired tokens are purged
    by a periodic task (accounts.tasks.expired_tokens_purge).
    """

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """OpenAPI: the same 'Authorization: Token ...' scheme as knox's (drf-spectacular matches exact classes only)."""

    target_class = TokenAuthentication
