from tests.conftest import Tenant


async def test_workspace_current(tenant: Tenant) -> None:
    response = await tenant.get("/api/v2/workspaces/current")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(tenant.id)
