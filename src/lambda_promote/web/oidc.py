"""OpenID Connect for ``serve`` (DESIGN §11.7): the authorization-code flow with PKCE (S256),
state and nonce, and the ID token verified against the issuer's published keys. The protocol
and JOSE work is joserfc's (signature, claims); this module only wires the flow:

    discover   GET {issuer}/.well-known/openid-configuration   (the issuer must say it is itself)
    begin      → the authorization URL, and the state, nonce and PKCE verifier kept in the session
    finish     POST token_endpoint (code + verifier) → id_token → ``verify``
    verify     signature by a key of jwks_uri (a kid it does not know → the keys are fetched
               again once: the issuer rotated them), alg in ALGORITHMS, iss, aud, exp, nonce

Everything the issuer says is untrusted until ``verify`` says otherwise; every refusal is an
``AuthenticationError`` (never a traceback) that the web layer turns into a 401 page.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from lambda_promote.errors import AuthenticationError

if TYPE_CHECKING:
    import httpx
    from joserfc.jwk import KeySet

    from lambda_promote.config.schema import Oidc

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
LEEWAY_SECONDS = 60  # clock skew between the issuer and this server
HTTP_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class LoginStart:
    """Where to send the browser, and what the session keeps until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the issuer vouched for: ``user`` (the configured claim: a reviewer name of §5.3),
    and the issuer and subject that make it proven."""

    user: str
    issuer: str
    subject: str


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One issuer, as ``server.oidc`` configures it. Thread-safe: the discovery document and
    the key set are cached and refreshed under a lock."""

    def __init__(
        self,
        settings: Oidc,
        *,
        redirect_uri: str,
        client_secret: str | None,
        http: httpx.Client | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.redirect_uri = redirect_uri
        self._secret = client_secret
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None

    @property
    def issuer(self) -> str:
        return self.settings.issuer.rstrip("/")

    # --- discovery and keys ---------------------------------------------------------------
    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is None:
                self._metadata = self._discover()
            return self._metadata

    def _discover(self) -> ProviderMetadata:
        document = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        try:
            found = ProviderMetadata(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
            )
        except (KeyError, TypeError):
            raise self._failure("its discovery document lacks an endpoint") from None
        if found.issuer.rstrip("/") != self.issuer:
            # OpenID Connect Discovery §4.3: a document naming another issuer is refused.
            raise self._failure(f"its discovery document names issuer {found.issuer!r}")
        return found

    def _key_set(self, *, refresh: bool) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is None or refresh:
                document = self._get_json(self._metadata_locked().jwks_uri)
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError):
                    raise self._failure("its JWKS holds no usable key") from None
            return self._keys

    def _metadata_locked(self) -> ProviderMetadata:
        if self._metadata is None:
            self._metadata = self._discover()
        return self._metadata

    def _get_json(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            answer = self._http.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            document = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._failure(f"GET {url} failed: {type(error).__name__}") from None
        if not isinstance(document, dict):
            raise self._failure(f"GET {url} did not answer a JSON object")
        return document

    # --- the flow -----------------------------------------------------------------------
    def begin(self) -> LoginStart:
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters, RFC 7636 allows 43–128
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": "openid profile email",
                "state": state,
                "nonce": nonce,
                "code_challenge": s256_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.metadata().authorization_endpoint
        joiner = "&" if "?" in endpoint else "?"
        return LoginStart(f"{endpoint}{joiner}{query}", state, nonce, verifier)

    def finish(self, code: str, *, verifier: str, nonce: str) -> Identity:
        """Exchange ``code`` for tokens and verify the ID token; the identity it proves."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.settings.client_id,
            "code_verifier": verifier,
        }
        if self._secret:
            form["client_secret"] = self._secret
        answer = self._post_form(self.metadata().token_endpoint, form)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise self._failure("its token answer carries no id_token")
        return self.identity(self.verify(id_token, nonce=nonce))

    def _post_form(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        import httpx

        try:
            answer = self._http.post(url, data=form, headers={"Accept": "application/json"})
            body = answer.json()
        except (httpx.HTTPError, ValueError) as error:
            raise self._failure(f"the token request failed: {type(error).__name__}") from None
        if answer.status_code != 200 or not isinstance(body, dict):
            said = body.get("error") if isinstance(body, dict) else None
            raise self._failure(f"the token request was refused ({said or answer.status_code})")
        return body

    def verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, ``iss``, ``aud``, ``exp`` and ``nonce``
        check out; ``AuthenticationError`` naming what did not."""
        from joserfc import jwt
        from joserfc.errors import InvalidKeyIdError, JoseError

        try:
            try:
                token = jwt.decode(id_token, self._key_set(refresh=False), algorithms=ALGORITHMS)
            except InvalidKeyIdError:
                # A kid we do not know: the issuer rotated its keys. Fetch them once more.
                token = jwt.decode(id_token, self._key_set(refresh=True), algorithms=ALGORITHMS)
            self._claims_rule(nonce).validate(token.claims)
        except JoseError as error:
            raise AuthenticationError(
                f"the ID token was refused: {error.description or error.error}",
                hint="log in again; if it persists, check server.oidc (issuer, client_id) "
                "and this server's clock",
                code="invalid_token",
            ) from None
        return dict(token.claims)

    def _claims_rule(self, nonce: str) -> Any:
        from joserfc import jwt

        return jwt.JWTClaimsRegistry(
            now=lambda: int(time.time()),
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.metadata().issuer},
            aud={"essential": True, "value": self.settings.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )

    def identity(self, claims: dict[str, Any]) -> Identity:
        name = claims.get(self.settings.username_claim)
        if not isinstance(name, str) or not name:
            raise AuthenticationError(
                f"the ID token has no {self.settings.username_claim!r} claim to name the reviewer",
                hint="set server.oidc.username_claim to a claim the issuer sends "
                "(preferred_username, email, …)",
                code="invalid_token",
            )
        return Identity(user=name, issuer=str(claims["iss"]), subject=str(claims["sub"]))

    def _failure(self, what: str) -> AuthenticationError:
        return AuthenticationError(
            f"the OpenID Connect issuer {self.issuer} could not be used: {what}",
            hint="check server.oidc.issuer in promote.yaml and that this server reaches it",
            code="oidc_unavailable",
        )

    def close(self) -> None:
        self._http.close()
