"""An unmatched /api/ URL answers the JSON 404 the README promises, with DEBUG on as well as off."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

UNMATCHED = ["/api/devices//", "/api/episodes/null,null/", "/api/no-such-thing/"]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("path", UNMATCHED)
def test_unmatched_api_urls_answer_json_404(patient, path, debug):
    client = APIClient()
    client.force_authenticate(patient)
    with override_settings(DEBUG=debug):
        for method in ("get", "post", "delete"):
            response = getattr(client, method)(path)
            assert response.status_code == 404, (method, response.content[:200])
            assert response["Content-Type"] == "application/json"
            assert response.json() == {"detail": "Not found."}


def test_pages_outside_the_api_keep_their_html_404():
    with override_settings(DEBUG=True):
        response = APIClient().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
