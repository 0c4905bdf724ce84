from __future__ import annotations

from tests.service.forms import form_token, sign_in


def test_sign_in_leads_a_reader_to_its_datasets(client):
    response = sign_in(client, "mzj_officer")
    page = client.get("/")

    assert response.headers["location"] == "/"
    assert page.url.path == "/datasets"
    assert "人口基础库" in page.text
    assert "rsj.insured" not in page.text


def test_preview_shows_the_first_rows_and_download_links(client):
    sign_in(client, "mzj_officer")

    page = client.get("/datasets/population", params={"fields": ["name"]})

    assert page.status_code == 200
    assert "张三" in page.text
    assert "1990-03-07" not in page.text
    assert "/api/v1/datasets/population/rows?fields=name&amp;format=csv" in page.text


def test_download_link_serves_csv_to_the_session(client):
    sign_in(client, "mzj_officer")

    response = client.get("/api/v1/datasets/population/rows?fields=name&format=csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.splitlines()[:2] == ["name", "张三"]


def test_verify_form_answers_per_field_without_stored_values(client):
    sign_in(client, "mzj_officer")
    token = form_token(client.get("/datasets/population/verify").text)

    page = client.post(
        "/datasets/population/verify",
        data={
            "csrf_token": token,
            "batch": "id,name,birth_date\n"
            "110101199003070017,张三,1990-03-07\n"
            "110101198512120028,王五,1985-12-12\n"
            "110101200001010000,赵六,2000-01-01\n",
        },
    )

    assert page.status_code == 200
    assert page.text.count('class="result match"') == 3
    assert page.text.count('class="result no_match"') == 1
    assert page.text.count('class="result not_found"') == 2
    assert "李四" not in page.text


def test_verify_upload_of_a_csv_file(client):
    sign_in(client, "mzj_officer")
    token = form_token(client.get("/datasets/population/verify").text)

    page = client.post(
        "/datasets/population/verify",
        data={"csrf_token": token},
        files={"file": ("batch.csv", "id,name\n110101199003070017,张三\n".encode(), "text/csv")},
    )

    assert page.status_code == 200
    assert page.text.count('class="result match"') == 1


def test_verify_batch_without_rows_says_what_to_write(client):
    sign_in(client, "mzj_officer")
    token = form_token(client.get("/datasets/population/verify").text)

    page = client.post("/datasets/population/verify", data={"csrf_token": token, "batch": "id"})

    assert page.status_code == 400
    assert "header line" in page.text


def test_auditor_lands_on_the_audit_log_and_sees_reads(client, data):
    sign_in(client, "mzj_officer")
    client.get("/datasets/population")
    client.cookies.clear()
    sign_in(client, "auditor")

    page = client.get("/")

    assert page.url.path == "/audit"
    assert "mzj_officer" in page.text
    assert "population" in page.text
    assert 'id="nav-datasets"' not in page.text
    assert client.get("/datasets").status_code == 403


def test_api_whoami_and_datasets_with_a_token(client, identity):
    headers = identity.bearer("mzj_app")

    whoami = client.get("/api/v1/whoami", headers=headers).json()
    datasets = client.get("/api/v1/datasets", headers=headers).json()["datasets"]

    assert whoami == {
        "login": "mzj_app",
        "display_name": "Mzj_App",
        "department": "mzj",
        "roles": ["system_client"],
        "via": "token",
    }
    assert [(d["name"], d["fields"]) for d in datasets] == [
        ("population", ["person_id", "name", "birth_date"])
    ]


def test_api_read_with_a_filter(client, identity):
    headers = identity.bearer("mzj_app")

    response = client.get(
        "/api/v1/datasets/population/rows",
        params={"fields": "name,birth_date", "filter": "name:李四"},
        headers=headers,
    )

    assert response.json()["rows"] == [{"name": "李四", "birth_date": "1985-12-12"}]


def test_api_verify_batch_over_the_limit_is_400(client, identity):
    headers = identity.bearer("mzj_app")
    items = [{"id": str(i), "claims": {"name": "x"}} for i in range(10_001)]

    response = client.post(
        "/api/v1/datasets/population/verify", json={"items": items}, headers=headers
    )

    assert response.status_code == 400
    assert "items" in response.json()["message"]


def test_unknown_path_is_a_json_404_under_the_api(client):
    response = client.get("/api/v1/nothing")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_api_schema_is_served_without_pages_that_load_scripts_from_elsewhere(client):
    assert client.get("/api/openapi.json").json()["paths"]["/api/v1/whoami"]
    assert client.get("/api/docs").status_code == 404
