import pytest

from tests.factories import published_model

pytestmark = pytest.mark.django_db


def test_browse_lists_a_published_model(client):
    model = published_model(name="Aurora")
    response = client.get("/")
    assert response.status_code == 200
    assert "Aurora" in response.content.decode()
    response = client.get(model.get_absolute_url())
    assert response.status_code == 200
