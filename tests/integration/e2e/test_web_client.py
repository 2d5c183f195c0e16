"""The web client in a real browser (headless Chromium) against ``medbook serve --demo``.

One Chromium for the whole module (another only for the language test); each test starts as a
fresh visitor. Every test ends by reading the browser's console: an error there fails it, except
the failed requests the test meant to make (a 422 it provoked is logged by Chromium as one).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import falcon.testing
import pytest
from browser_support import (
    accessibility_violations,
    button,
    console_errors,
    link,
    reset,
    screenshot,
    set_viewport,
    start_browser,
    text_in,
    visible,
    wait_for,
)
from e2e_support import (
    HttpClient,
    Server,
    clean_environment,
    free_port,
    is_listening,
    phone_numbers,
)
from PIL import Image
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from tcp_cut import CuttableLink

from medbook.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_PATIENT
from medbook.domain.accounts.identity import check_character

PHONES = phone_numbers("152")
PASSWORD = "a browser passphrase"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
#: Dr. Zhang Wei of the demo (doctor 1, Cardiology at Peking Union).
DOCTOR_PHONE = "13800000001"
#: A resident identity number whose check character is right (born 1949-12-31).
ID_NUMBER = "11010519491231002" + check_character("11010519491231002")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module", autouse=True)
def chat_listening(demo_server: Server) -> None:
    """The demo's chat server (a process ``serve --demo`` starts) accepts connections: before it
    does, the client's WebSocket is refused, and Chromium logs each refusal as an error."""
    port = demo_server.args[demo_server.args.index("--chat-bind") + 1].rsplit(":", 1)[1]
    deadline = time.monotonic() + 30
    while not is_listening(int(port)):
        assert time.monotonic() < deadline, f"the demo's chat server is not listening on {port}"
        time.sleep(0.1)


@pytest.fixture
def page(browser: webdriver.Chrome, demo_server: Server) -> Iterator[webdriver.Chrome]:
    """The browser as a fresh visitor of the demo server; its console checked afterwards."""
    set_viewport(browser, 1280, 800)
    reset(browser, demo_server.base_url)
    browser.get_log("browser")  # what earlier tests left
    browser.expected_statuses = ()  # type: ignore[attr-defined]
    yield browser
    errors = console_errors(browser, browser.expected_statuses)  # type: ignore[attr-defined]
    assert not errors, errors


def _new_patient(http: HttpClient, name: str) -> str:
    """The phone number of a patient registered through the API (password ``PASSWORD``)."""
    phone = next(PHONES)
    http.expect(201, "POST", "/v1/patients", {"phone": phone, "name": name, "password": PASSWORD})
    return phone


def _offered(http: HttpClient, doctor_id: int, days: int = 14) -> list[dict[str, Any]]:
    """The doctor's sessions from today (Shanghai) for ``days`` days."""
    today = dt.datetime.now(SHANGHAI).date()
    path = f"/v1/doctors/{doctor_id}/sessions?from={today}&to={today + dt.timedelta(days)}"
    sessions: list[dict[str, Any]] = http.expect(200, "GET", path)
    return sessions


def _book_first(http: HttpClient, token: str, doctor_id: int) -> dict[str, Any]:
    """The first session of the doctor with a place left, booked through the API."""
    session = next(s for s in _offered(http, doctor_id) if s["remaining"] > 0)
    chosen = {"doctor_id": doctor_id, "date": session["date"], "period": session["period"]}
    booked: dict[str, Any] = http.expect(201, "POST", "/v1/appointments", chosen, token=token)
    return booked


def _order_and_start_paying(
    http: HttpClient, token: str, service: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order of ``service`` at the hospital on its first date, and the payment it started."""
    first = {"service_id": service["id"], "date": service["dates"][0]["date"], "place": "hospital"}
    order: dict[str, Any] = http.expect(201, "POST", "/v1/orders", first, token=token)
    payment: dict[str, Any] = http.expect(
        201, "POST", f"/v1/orders/{order['id']}/payment", token=token
    )
    return order, payment


def _statuses_of_orders(http: HttpClient, token: str) -> list[str]:
    listing = http.expect(200, "GET", "/v1/orders", token=token)
    return [o["status"] for o in (listing["items"] if isinstance(listing, dict) else listing)]


def _fill(browser: webdriver.Chrome, values: dict[str, str], form: str = "field") -> None:
    for name, value in values.items():
        field = visible(browser, f"#{form}-{name}")
        field.clear()
        field.send_keys(value)


def _submit(browser: webdriver.Chrome) -> None:
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()


def _log_in(browser: webdriver.Chrome, phone: str, password: str, role: str = "patient") -> None:
    """Log in from a freshly loaded page (whoever was logged in before is gone), then wait for
    the view a login opens: a patient's appointments, anyone else's account."""
    browser.execute_script("sessionStorage.clear()")
    browser.get(browser.current_url.split("#")[0] + "#/login")
    browser.refresh()
    _fill(browser, {"phone": phone, "password": password})
    Select(browser.find_element(By.ID, "field-role")).select_by_value(role)
    _submit(browser)
    text_in(browser, "main h1", "My appointments" if role == "patient" else "My account")


def _first_bookable(browser: webdriver.Chrome) -> tuple[str, str, str]:
    """The date, period and "places left" text of the first session with a Book button."""
    visible(browser, "ul.sessions")
    for row in browser.find_elements(By.CSS_SELECTOR, "li.session"):
        if row.find_elements(By.CSS_SELECTOR, "button.primary"):
            places = row.find_element(By.CSS_SELECTOR, "p.muted").text
            return row.get_attribute("data-date"), row.get_attribute("data-period"), places
    raise AssertionError("no bookable session on the page")


def _row(browser: webdriver.Chrome, date: str, period: str) -> str:
    return f'li.session[data-date="{date}"][data-period="{period}"]'


def test_a_new_patient_registers_books_and_cancels(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    phone = next(PHONES)
    link(page, "Register").click()
    _fill(page, {"phone": phone, "name": "Wang Fang", "password": PASSWORD})
    _submit(page)
    text_in(page, "main", "Registered. You can log in now.")
    _fill(page, {"phone": phone, "password": PASSWORD})
    _submit(page)
    text_in(page, "main h1", "My appointments")
    text_in(page, "main", "You have no appointments yet.")

    link(page, "Hospitals").click()
    link(page, "Peking Union Medical College Hospital").click()
    link(page, "Cardiology").click()
    link(page, "Zhang Wei").click()
    text_in(page, "main h1", "Zhang Wei")
    date, period, places = _first_bookable(page)
    remaining, quota = (int(n) for n in places.split(" ")[0:3:2])
    page.find_element(By.CSS_SELECTOR, f"{_row(page, date, period)} button.primary").click()

    text_in(page, "main .notice", "Booked: number")
    text_in(page, f"{_row(page, date, period)} p.muted", f"{remaining - 1} of {quota} places left")
    link(page, "See my appointments").click()
    card = visible(page, "li.appointment")
    assert "Zhang Wei" in card.text and "Booked" in card.text, card.text

    card.find_element(By.XPATH, ".//button[normalize-space()='Cancel appointment']").click()
    visible(page, "li.appointment button.danger").click()
    text_in(page, "main .notice", "The appointment is cancelled.")
    text_in(page, "li.appointment .badge", "Cancelled")

    # What the browser showed is what the API holds.
    http = HttpClient(demo_server.base_url)
    token = http.login(phone, PASSWORD, "patient")
    held = http.expect(200, "GET", "/v1/appointments", token=token)
    assert [(a["date"], a["period"], a["status"]) for a in held] == [(date, period, "cancelled")]


def test_a_refused_form_names_the_field_beside_it(page: webdriver.Chrome) -> None:
    page.expected_statuses = (422,)  # type: ignore[attr-defined]
    link(page, "Register").click()
    _fill(page, {"phone": "12345", "name": "Wang Fang", "password": PASSWORD})
    _submit(page)

    text_in(page, "#field-phone-error", "11-digit")
    phone = page.find_element(By.ID, "field-phone")
    assert phone.get_attribute("aria-invalid") == "true"
    assert "field-phone-error" in phone.get_attribute("aria-describedby")
    problem = visible(page, "main [role=alert]")
    assert "phone" in problem.text
    serious = [v for v in accessibility_violations(page) if v["impact"] in ("serious", "critical")]
    assert not serious, serious


def test_the_accessibility_check_finds_a_broken_rule(page: webdriver.Chrome) -> None:
    # The check above must be able to fail: an input without a label, grey on grey text.
    visible(page, "main h1")
    page.execute_script(
        "const main = document.querySelector('main');"
        "main.appendChild(document.createElement('input'));"
        "const faint = document.createElement('p'); faint.textContent = 'faint';"
        "faint.style.color = '#f0f0f0'; main.appendChild(faint);"
    )

    broken = {v["id"]: v["impact"] for v in accessibility_violations(page)}

    assert broken.get("label") == "critical", broken
    assert broken.get("color-contrast") == "serious", broken


def test_a_place_taken_meanwhile_is_refused_with_the_api_s_reason(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    page.expected_statuses = (409,)  # type: ignore[attr-defined]
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Zhao Lei")
    _log_in(page, phone, PASSWORD)
    page.get(demo_server.base_url + "/#/doctors/2")
    date, period, _ = _first_bookable(page)

    token = http.login(phone, PASSWORD, "patient")
    http.expect(
        201,
        "POST",
        "/v1/appointments",
        {"doctor_id": 2, "date": date, "period": period},
        token=token,
    )
    page.find_element(By.CSS_SELECTOR, f"{_row(page, date, period)} button.primary").click()

    alert = visible(page, f"{_row(page, date, period)} [role=alert]")
    assert "already" in alert.text.lower(), alert.text


def test_text_from_people_is_shown_as_text_never_as_markup(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    name = '<img src=x onerror="window.pwned=1"><b>Li</b>'
    phone = _new_patient(HttpClient(demo_server.base_url), name)
    _log_in(page, phone, PASSWORD)
    link(page, "My account").click()

    text_in(page, "main dl", name)
    assert page.find_elements(By.CSS_SELECTOR, "main img, main b") == []
    assert page.execute_script("return window.pwned === undefined")


def test_a_patient_verifies_their_identity(page: webdriver.Chrome, demo_server: Server) -> None:
    page.expected_statuses = (422,)  # type: ignore[attr-defined]
    phone = _new_patient(HttpClient(demo_server.base_url), "Zhao Min")
    _log_in(page, phone, PASSWORD)
    link(page, "My account").click()
    text_in(page, "main", "Not verified yet.")

    wrong = "110105194912310021"[:17] + "9"  # the check character does not match
    _fill(page, {"name": "Zhao Min", "id_number": wrong})
    _submit(page)
    visible(page, "#field-id_number-error")
    _fill(page, {"id_number": ID_NUMBER})
    _submit(page)

    text_in(page, "main .notice", "Verified: born 1949-12-31.")


def test_a_doctor_keeps_their_profile_photo_schedule_and_leave(
    page: webdriver.Chrome, demo_server: Server, tmp_path: Path
) -> None:
    http = HttpClient(demo_server.base_url)
    patient = http.login(DEMO_PATIENT[0], DEMO_PASSWORD, "patient")
    booked = http.expect(200, "GET", "/v1/appointments", token=patient)
    doctor_id, date = 1, dt.datetime.now(SHANGHAI).date() + dt.timedelta(days=3)
    _log_in_as(page, demo_server.base_url, DOCTOR_PHONE, "doctor")

    # Profile: a new specialty, kept when the hospital's departments load again.
    specialty = visible(page, "#field-specialty")
    specialty.clear()
    specialty.send_keys("heart failure")
    Select(page.find_element(By.ID, "field-gender")).select_by_value("female")
    page.find_element(By.CSS_SELECTOR, "form[aria-labelledby=profile-heading] button").click()
    text_in(page, "form[aria-labelledby=profile-heading] .notice", "Saved.")

    # Photo: a PNG chosen in the file input is uploaded as it is.
    png = tmp_path / "me.png"
    Image.new("RGB", (64, 64), (11, 92, 173)).save(png)
    page.find_element(By.ID, "field-avatar").send_keys(str(png))
    text_in(page, "main", "Your photo is saved.")
    visible(page, "img.avatar.large")

    # Schedule: three places on Sunday afternoons.
    sunday = page.find_element(By.ID, "quota-sunday-afternoon")
    sunday.clear()
    sunday.send_keys("3")
    page.find_element(By.CSS_SELECTOR, "form[aria-labelledby=schedule-heading] button").click()
    text_in(page, "form[aria-labelledby=schedule-heading] .notice", "Saved.")

    # Leave: the session's appointments are cancelled (one, booked here through the API).
    offered = http.expect(
        200, "GET", f"/v1/doctors/{doctor_id}/sessions?from={date}&to={date + dt.timedelta(7)}"
    )
    session = next(s for s in offered if s["remaining"] > 0)
    http.expect(
        201,
        "POST",
        "/v1/appointments",
        {"doctor_id": doctor_id, "date": session["date"], "period": session["period"]},
        token=patient,
    )
    leave_date = page.find_element(By.ID, "field-date")
    page.execute_script("arguments[0].value = arguments[1]", leave_date, session["date"])
    Select(page.find_element(By.ID, "field-period")).select_by_value(session["period"])
    page.find_element(By.CSS_SELECTOR, "form[aria-labelledby=leave-heading] button").click()
    text_in(page, "form[aria-labelledby=leave-heading] .notice", "Appointments cancelled: 1.")

    profile = http.expect(200, "GET", f"/v1/doctors/{doctor_id}")
    assert profile["specialty"] == "heart failure"
    assert profile["gender"] == "female"
    assert profile["rank"] == "chief"  # unchanged: a new rank would need the hospital's approval
    assert profile["avatar_url"]
    assert profile["schedule"]["sunday"]["afternoon"] == 3
    mine = http.expect(200, "GET", "/v1/appointments", token=patient)
    assert len(mine) == len(booked) + 1
    assert [a["status"] for a in mine if a["date"] == session["date"]] == ["cancelled"]


def _log_in_as(page: webdriver.Chrome, base_url: str, phone: str, role: str) -> None:
    """A demo account (``DEMO_PASSWORD``) logs in."""
    if not page.current_url.startswith(base_url):
        page.get(base_url + "/")
    _log_in(page, phone, DEMO_PASSWORD, role)


def test_an_admin_approves_a_doctor_and_adds_a_department(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = next(PHONES)
    http.expect(
        201, "POST", "/v1/doctors", {"phone": phone, "name": "Sun Li", "password": PASSWORD}
    )
    doctor = http.login(phone, PASSWORD, "doctor")
    joined = http.expect(
        200, "PATCH", "/v1/doctors/me", {"hospital_id": 1, "department_id": 2}, token=doctor
    )
    assert joined["verified"] is False
    _log_in_as(page, demo_server.base_url, DEMO_ADMIN[0], "admin")

    row = f'ul.awaiting li[data-doctor="{joined["id"]}"]'
    text_in(page, row, "Sun Li")
    page.find_element(By.CSS_SELECTOR, f"{row} button.primary").click()
    text_in(page, "main .notice", "Sun Li is approved")
    text_in(page, f'ul.approved li[data-doctor="{joined["id"]}"]', "Withdraw approval")
    listed = http.expect(200, "GET", "/v1/departments/2/doctors")
    assert joined["id"] in [d["id"] for d in listed]

    _fill(page, {"name": "Geriatrics", "description": "Care of older people"}, "department")
    page.find_element(
        By.CSS_SELECTOR, "form[aria-labelledby=add-department-heading] button"
    ).click()
    text_in(page, "form[aria-labelledby=add-department-heading] .notice", "Geriatrics is added.")
    text_in(page, "ul.departments", "Geriatrics")
    names = [d["name"] for d in http.expect(200, "GET", "/v1/hospitals/1/departments")]
    assert "Geriatrics" in names


def test_a_patient_reads_the_notice_of_a_session_called_off(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Qian Yu")
    patient = http.login(phone, PASSWORD, "patient")
    booked = _book_first(http, patient, 2)
    chosen = {"date": booked["date"], "period": booked["period"]}
    doctor = http.login("13800000002", DEMO_PASSWORD, "doctor")
    http.expect(201, "POST", "/v1/doctors/me/leave", chosen, token=doctor)
    _log_in(page, phone, PASSWORD)

    text_in(page, "header nav", "1 unread")
    link(page, "Notifications").click()
    card = visible(page, "li.notification.unread")
    assert "cancel" in card.text.lower(), card.text
    card.find_element(By.CSS_SELECTOR, "button").click()
    wait_for(page, lambda b: not b.find_elements(By.CSS_SELECTOR, "li.notification.unread"))
    wait_for(page, lambda b: "unread" not in b.find_element(By.CSS_SELECTOR, "header nav").text)
    assert all(n["read"] for n in http.expect(200, "GET", "/v1/notifications", token=patient))


@pytest.mark.parametrize(
    "fragment",
    [
        "#/hospitals/99999",
        "#/departments/99999",
        "#/doctors/99999",
        "#/doctors/9999999999",
        "#/doctors/0",
        "#/nowhere",
    ],
)
def test_an_address_that_names_nothing_says_so(
    page: webdriver.Chrome, demo_server: Server, fragment: str
) -> None:
    page.expected_statuses = (404,)  # type: ignore[attr-defined]
    page.get(f"{demo_server.base_url}/{fragment}")

    text_in(page, "main h1", "There is nothing at this address.")
    assert not page.find_elements(By.CSS_SELECTOR, "main [role=alert]")


def _zbar(png: bytes, tmp_path: Path) -> str:
    """The text of the QR code in a screenshot, read by zbar's own decoder."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg, "zbarimg is missing: scripts/services-up installs zbar-tools"
    image = tmp_path / "qr.png"
    image.write_bytes(png)
    done = subprocess.run([zbarimg, "-q", "--raw", str(image)], capture_output=True, check=False)
    assert done.returncode == 0, f"zbarimg found no QR code (exit {done.returncode})"
    return done.stdout.decode().strip()


def test_a_record_shared_by_qr_is_opened_by_a_doctor_and_the_look_is_logged(
    page: webdriver.Chrome, demo_server: Server, tmp_path: Path
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "He Jing")
    _log_in(page, phone, PASSWORD)
    link(page, "Health file").click()
    text_in(page, "main", "No records yet.")

    _fill(page, {"title": "Blood test", "hospital_name": "Ruijin", "notes": "Iron a little low"})
    visit = page.find_element(By.ID, "field-visit_date")
    page.execute_script("arguments[0].value = '2026-11-20'", visit)
    page.find_element(By.CSS_SELECTOR, "form[aria-labelledby=new-record-heading] button").click()
    card = visible(page, "li.record")
    assert "Blood test" in card.text and "Iron a little low" in card.text
    scan = tmp_path / "scan.png"
    Image.new("RGB", (40, 30), (200, 40, 40)).save(scan)
    card.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(scan))
    text_in(page, "li.record", "The file is attached.")
    visible(page, "li.record button.link").click()
    visible(page, "li.record img.attachment")  # fetched with the token, shown from a blob: URL

    button(page, "Share all my records").click()
    qr = visible(page, "img.qr")
    wait_for(page, lambda b: b.execute_script("return arguments[0].naturalWidth > 0", qr))
    code = visible(page, ".share-code").text
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", qr)
    assert code in _zbar(qr.screenshot_as_png, tmp_path)  # what the screen shows, decoded

    # A doctor opens it by code (what the QR holds works too).
    _log_in_as(page, demo_server.base_url, DOCTOR_PHONE, "doctor")
    link(page, "Shared records").click()
    _fill(page, {"code": code})
    _submit(page)
    text_in(page, "ul.shared", "Blood test")

    _log_in(page, phone, PASSWORD)
    link(page, "Health file").click()
    text_in(page, "ul.access-log", "Zhang Wei")


def test_a_patient_records_vital_signs_and_sees_them_charted(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Lu Yan")
    _log_in(page, phone, PASSWORD)
    page.get(demo_server.base_url + "/#/vitals")
    text_in(page, "main", "No readings of this kind yet.")

    for systolic, diastolic, when in (
        ("128", "84", "2026-11-30T08:00"),
        ("121", "79", "2026-12-01T08:00"),
    ):
        _fill(page, {"systolic": systolic, "diastolic": diastolic})
        field = page.find_element(By.ID, "field-measured_at")
        page.execute_script("arguments[0].value = arguments[1]", field, when)
        _submit(page)
        text_in(page, "main .notice", "Recorded.")

    wait_for(page, lambda b: len(b.find_elements(By.CSS_SELECTOR, "table.readings tbody tr")) == 2)
    assert len(page.find_elements(By.CSS_SELECTOR, "svg.chart-svg circle")) == 4  # 2 readings x 2
    label = page.find_element(By.CSS_SELECTOR, "svg.chart-svg").get_attribute("aria-label")
    assert label.startswith("Blood pressure: 2 readings"), label
    assert "128" in page.find_element(By.CSS_SELECTOR, "table.readings").text
    screenshot(page, "vitals-chart-1280x800")

    link(page, "Health file").click()
    link(page, "Diet advice").click()
    visible(page, "main ul.cards li")


@pytest.mark.parametrize("place", ["home", "hospital"])
def test_a_home_visit_is_ordered_and_paid_in_the_sandbox(
    page: webdriver.Chrome, demo_server: Server, place: str
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Fang Hua")
    _log_in(page, phone, PASSWORD)
    link(page, "Home visits").click()
    _fill(page, {"lat": "31.2122", "lng": "121.4688"})  # beside Ruijin Hospital
    button(page, "Search").click()

    service = visible(page, "li.service")
    assert "km away" in service.text and "CN¥" in service.text, service.text
    Select(service.find_element(By.CSS_SELECTOR, "select[name=place]")).select_by_value(place)
    if place == "home":  # a visit at the hospital takes no address (the API refuses one)
        address = service.find_element(By.CSS_SELECTOR, "input[name=address]")
        address.send_keys("197 Ruijin 2nd Road")
    service.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_in(page, "main .notice", "of which the platform keeps")
    page.find_element(By.CSS_SELECTOR, "main .notice button.primary").click()

    text_in(page, "main h1", "Sandbox payment")
    assert "/sandbox/pay/" in page.current_url
    button(page, "Pay").click()
    text_in(page, "main .notice", "Paid. The order is confirmed.")
    link(page, "Back to my orders").click()
    text_in(page, "li.order .badge", "Paid")

    assert _statuses_of_orders(http, http.login(phone, PASSWORD, "patient")) == ["paid"]


def test_the_sandbox_page_reports_only_what_the_gateway_could(demo_server: Server) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Tang Yi")
    token = http.login(phone, PASSWORD, "patient")
    service = http.expect(200, "GET", "/v1/services?lat=31.2122&lng=121.4688")[0]
    _, payment = _order_and_start_paying(http, token, service)
    page = f"/sandbox/pay/{payment['payment_id']}"

    assert http.get(page).content_type == "text/html"
    wrong = {"status": "succeeded", "amount_cents": payment["amount_cents"] - 1}
    assert http.post(page, wrong).status == 400  # the amount differs: refused, as by notify
    bad = http.post(page, {"status": "paid", "amount_cents": 1}).body
    assert bad["errors"] == [{"field": "status", "message": 'must be "succeeded" or "failed"'}]
    assert http.post(page, {"status": "succeeded", "amount_cents": 10**12}).status == 422
    assert http.call("POST", page, data=b"not json").status == 400
    assert http.call("POST", page, data=b"[" * 1024).status == 400  # nested deep: not a 500
    assert http.call("POST", page, data=b" " * 2048).status == 413
    unknown = http.post("/sandbox/pay/no-such-payment", {**wrong, "amount_cents": 1})
    assert (unknown.status, unknown.body["code"]) == (400, "payment_refused")
    failed = http.expect(200, "POST", page, {**wrong, "status": "failed"})
    assert failed["outcome"] == "failed"
    paid = {"status": "succeeded", "amount_cents": payment["amount_cents"]}
    assert http.expect(200, "POST", page, paid)["outcome"] == "paid"
    assert http.expect(200, "POST", page, paid)["outcome"] == "duplicate"  # a new event, once


def test_the_sandbox_page_is_not_served_outside_demo_mode() -> None:
    from medbook.bootstrap import in_memory
    from medbook.entrypoints.http.app import create_app

    client = falcon.testing.TestClient(create_app(in_memory()))

    assert client.simulate_get("/sandbox/pay/abc").status_code == 404
    assert client.simulate_post("/sandbox/pay/abc", json={"status": "succeeded"}).status_code == 404


def test_a_patient_and_a_doctor_chat_in_two_windows(
    page: webdriver.Chrome, demo_server: Server, tmp_path: Path
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Xu Ming")
    patient = http.login(phone, PASSWORD, "patient")
    _book_first(http, patient, 1)  # so they may talk
    _log_in(page, phone, PASSWORD)
    page.get(demo_server.base_url + "/#/doctors/1")
    button(page, "Message the doctor").click()
    text_in(page, "main h1", "Chat with Zhang Wei")
    text_in(page, ".chat-status", "Connected")

    doctor = start_browser()
    try:
        doctor.get(demo_server.base_url + "/")
        _log_in_as(doctor, demo_server.base_url, DOCTOR_PHONE, "doctor")
        link(doctor, "Messages").click()
        text_in(doctor, "ul.conversations", "Xu Ming")

        visible(page, "#chat-content").send_keys(
            "Hello doctor, my chest hurts when I climb stairs."
        )
        page.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        text_in(doctor, "header nav", "1 unread")  # the badge, live
        text_in(doctor, "ul.conversations", "1 unread")
        link(doctor, "Xu Ming").click()
        text_in(doctor, "ol.messages", "my chest hurts")
        text_in(page, "ol.messages .mine", "Read")  # the doctor's window read it

        visible(doctor, "#chat-content").send_keys("Please come to the clinic; we will do an ECG.")
        doctor.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        text_in(page, "ol.messages .theirs", "we will do an ECG")

        picture = tmp_path / "rash.png"
        Image.new("RGB", (32, 32), (220, 120, 120)).save(picture)
        page.find_element(By.ID, "chat-image").send_keys(str(picture))
        visible(doctor, "ol.messages .theirs img.chat-image")
        set_viewport(page, 360, 740)
        screenshot(page, "chat-patient-360x740")
        assert not console_errors(doctor)
    finally:
        doctor.quit()
    conversation = http.expect(200, "GET", "/v1/conversations", token=patient)[0]
    stored = http.expect(
        200, "GET", f"/v1/conversations/{conversation['id']}/messages", token=patient
    )
    assert [m["kind"] for m in stored] == ["text", "text", "image"]


def test_a_family_doctor_is_signed_sees_the_patient_s_readings_and_is_ended(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    phone = _new_patient(http, "Jiang Hui")
    patient = http.login(phone, PASSWORD, "patient")
    reading = {
        "kind": "heart_rate",
        "values": {"value": 72},
        "measured_at": "2026-11-30T07:30:00+08:00",
    }
    http.expect(201, "POST", "/v1/vitals", reading, token=patient)
    _log_in(page, phone, PASSWORD)
    page.get(demo_server.base_url + "/#/doctors/2")
    button(page, "Sign as my family doctor").click()
    text_in(page, "main .notice", "Li Na is your family doctor.")
    link(page, "My family doctors").click()
    text_in(page, "li.contract", "Li Na")

    _log_in_as(page, demo_server.base_url, "13800000002", "doctor")
    link(page, "My patients").click()
    text_in(page, "li.contract", "Jiang Hui")
    button(page, "Vital signs of Jiang Hui").click()
    text_in(page, "ul.vitals", "72")

    _log_in(page, phone, PASSWORD)
    page.get(demo_server.base_url + "/#/contracts")
    button(page, "End the contract").click()
    text_in(page, "main", "No family-doctor contract.")
    assert http.expect(200, "GET", "/v1/contracts", token=patient) == []


def test_an_admin_publishes_a_service_and_completes_a_paid_order(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    _log_in_as(page, demo_server.base_url, DEMO_ADMIN[0], "admin")
    _fill(page, {"name": "Wound care at home", "price_yuan": "88.50", "days": "3"}, "service")
    button(page, "Publish a home-visit service").click()
    text_in(
        page, "form[aria-labelledby=publish-heading] .notice", "Wound care at home is published."
    )
    hospital = http.expect(200, "GET", "/v1/hospitals")[0]
    near = http.expect(200, "GET", f"/v1/services?lat={hospital['lat']}&lng={hospital['lng']}")
    service = next(s for s in near if s["name"] == "Wound care at home")
    assert (service["price_cents"], len(service["dates"])) == (8850, 3)

    # A patient orders and pays it (through the API and the sandbox gateway's page).
    phone = _new_patient(http, "Yang Lin")
    patient = http.login(phone, PASSWORD, "patient")
    order, payment = _order_and_start_paying(http, patient, service)
    paid = {"status": "succeeded", "amount_cents": payment["amount_cents"]}
    http.expect(200, "POST", f"/sandbox/pay/{payment['payment_id']}", paid)

    page.refresh()
    Select(visible(page, "#field-order-status")).select_by_value("paid")
    row = f'ul.hospital-orders li[data-id="{order["id"]}"]'
    text_in(page, row, "Paid")
    button(page, "Mark completed").click()
    Select(visible(page, "#field-order-status")).select_by_value("completed")
    text_in(page, row, "Completed")
    assert _statuses_of_orders(http, patient) == ["completed"]


def test_a_doctor_s_appointments_start_with_today_and_come_in_order(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    http = HttpClient(demo_server.base_url)
    offered = _offered(http, 3)
    later, sooner = offered[-1], offered[0]  # booked in the wrong order on purpose
    for session in (later, sooner):
        patient = http.login(_new_patient(http, "Zhou Qi"), PASSWORD, "patient")
        chosen = {"doctor_id": 3, "date": session["date"], "period": session["period"]}
        http.expect(201, "POST", "/v1/appointments", chosen, token=patient)
    doctor = http.expect(200, "GET", "/v1/doctors/3")
    phone = next(
        d["phone"]
        for d in http.expect(
            200,
            "GET",
            "/v1/hospitals/1/doctors",
            token=http.login(DEMO_ADMIN[0], DEMO_PASSWORD, "admin"),
        )
        if d["id"] == doctor["id"]
    )
    _log_in_as(page, demo_server.base_url, phone, "doctor")
    link(page, "My appointments").click()

    text_in(page, "main h2", "Today and later")
    ids = [
        c.get_attribute("data-id") for c in page.find_elements(By.CSS_SELECTOR, "li.appointment")
    ]
    dates = [
        http.expect(
            200, "GET", f"/v1/appointments/{i}", token=http.login(phone, DEMO_PASSWORD, "doctor")
        )["date"]
        for i in ids
    ]
    assert dates == sorted(dates) and len(dates) == 2


def test_read_marks_and_refusals_show_live_when_patient_and_doctor_share_an_id(
    page: webdriver.Chrome, demo_server: Server
) -> None:
    # The demo patient and Dr. Zhang Wei are both id 1 (ids are per role): a receipt used to be
    # taken for the reader's own when only the id was compared.
    _log_in(page, DEMO_PATIENT[0], DEMO_PASSWORD)
    page.get(demo_server.base_url + "/#/chat/1")
    text_in(page, ".chat-status", "Connected")
    doctor = start_browser()
    try:
        doctor.get(demo_server.base_url + "/")
        _log_in_as(doctor, demo_server.base_url, DOCTOR_PHONE, "doctor")
        visible(page, "#chat-content").send_keys("Same id, other role")
        page.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        doctor.get(demo_server.base_url + "/#/chat/1")
        text_in(doctor, "ol.messages", "Same id, other role")
        wait_for(
            page,
            lambda b: any(
                "Read" in e.text and "Same id" in e.text
                for e in b.find_elements(By.CSS_SELECTOR, "ol.messages .mine")
            ),
        )

        # A message the server refuses (a bidirectional control character) says so, and stays
        # out of the queue that is sent again after a reconnect.
        visible(page, "#chat-content").send_keys("turn \u202e around")
        page.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        text_in(page, "ol.messages .mine .field-error", "Not sent")
    finally:
        doctor.quit()


def test_chat_survives_a_lost_connection_without_losing_a_message(
    tmp_path_factory: pytest.TempPathFactory, browser: webdriver.Chrome
) -> None:
    # A demo server of its own whose page sends browsers to the chat server through a link the
    # test can cut (the chat server itself stays up, as when a phone loses its network).
    chat_port = free_port()
    link_ = CuttableLink(chat_port)
    workdir = tmp_path_factory.mktemp("demo-cut")
    env = clean_environment(workdir, {"MEDBOOK_CHAT_URL": f"ws://127.0.0.1:{link_.port}/v1/chat"})
    server = Server(workdir, env, ("--demo", "--chat-bind", f"127.0.0.1:{chat_port}")).start()
    doctor = start_browser()
    try:
        deadline = time.monotonic() + 30
        while not is_listening(chat_port):
            assert time.monotonic() < deadline, "the demo's chat server is not listening"
            time.sleep(0.1)
        http = HttpClient(server.base_url)
        phone = _new_patient(http, "Lin Tao")
        patient = http.login(phone, PASSWORD, "patient")
        _book_first(http, patient, 1)
        talk = http.expect(201, "POST", "/v1/conversations", {"doctor_id": 1}, token=patient)
        browser.get(server.base_url + "/")
        _log_in(browser, phone, PASSWORD)
        browser.get(f"{server.base_url}/#/chat/{talk['id']}")
        text_in(browser, ".chat-status", "Connected")
        doctor.get(server.base_url + "/")
        _log_in_as(doctor, server.base_url, DOCTOR_PHONE, "doctor")
        doctor.get(f"{server.base_url}/#/chat/{talk['id']}")
        text_in(doctor, ".chat-status", "Connected")

        link_.cut()  # both lose the chat server; the patient writes, the doctor answers later
        text_in(browser, ".chat-status", "Offline")
        visible(browser, "#chat-content").send_keys("Sent while offline")
        browser.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        http.expect(200, "GET", "/healthz")
        doctor_token = http.login(DOCTOR_PHONE, DEMO_PASSWORD, "doctor")
        assert [
            m["content"]
            for m in http.expect(
                200, "GET", f"/v1/conversations/{talk['id']}/messages", token=doctor_token
            )
        ] == []  # nothing reached the server yet

        link_.restore()
        text_in(browser, ".chat-status", "Connected", timeout=40)
        text_in(doctor, ".chat-status", "Connected", timeout=40)
        text_in(doctor, "ol.messages .theirs", "Sent while offline")  # sent again, stored once
        visible(doctor, "#chat-content").send_keys("Seen it")
        doctor.find_element(By.CSS_SELECTOR, ".composer button[type=submit]").click()
        text_in(browser, "ol.messages .theirs", "Seen it")
        stored = http.expect(200, "GET", f"/v1/conversations/{talk['id']}/messages", token=patient)
        assert [m["content"] for m in stored] == ["Sent while offline", "Seen it"]
    finally:
        doctor.quit()
        link_.close()
        server.stop()  # the refused reconnects it logged are read away by the next test's page


def test_the_language_follows_the_browser_and_the_switch(demo_server: Server) -> None:
    browser = start_browser("zh-CN")
    try:
        browser.get(demo_server.base_url + "/")
        text_in(browser, "main h1", "选择医院")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
        browser.find_element(By.XPATH, "//header//button[normalize-space()='English']").click()
        text_in(browser, "main h1", "Choose a hospital")
        browser.refresh()  # the choice is kept
        text_in(browser, "main h1", "Choose a hospital")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert not console_errors(browser)
    finally:
        browser.quit()


def test_the_keyboard_reaches_everything_and_focus_follows_the_view(
    page: webdriver.Chrome,
) -> None:
    def focused() -> str:
        return str(page.switch_to.active_element.text)

    def press(key: str) -> None:
        page.switch_to.active_element.send_keys(key)

    # A view opens with its heading focused: a screen reader starts there, and so does Tab.
    text_in(page, "main h1", "Choose a hospital")
    link(page, "Peking Union Medical College Hospital")  # the list has come
    assert page.switch_to.active_element.tag_name == "h1"
    press(Keys.TAB)
    assert focused() == "Peking Union Medical College Hospital"
    press(Keys.ENTER)
    text_in(page, "main h2", "Departments")
    assert page.switch_to.active_element.tag_name == "h1"

    # Back through the navigation to the skip link, which jumps past it again.
    seen = []
    for _ in range(12):
        press(Keys.SHIFT + Keys.TAB)
        seen.append(focused())
        if focused() == "Skip to content":
            break
    assert {"Log in", "Register", "中文", "Skip to content"} <= set(seen), seen
    press(Keys.ENTER)
    assert page.switch_to.active_element.get_attribute("id") == "main"
    visible_focus = page.execute_script(
        "const a = document.querySelector('header nav a');"
        "a.focus(); return getComputedStyle(a).outlineStyle;"
    )
    assert visible_focus != "none"


PAGES = {
    "hospitals": "/#/",
    "departments": "/#/hospitals/1",
    "doctors": "/#/departments/1?hospital=1",
    "doctor": "/#/doctors/1",
    "appointments": "/#/appointments",
    "account": "/#/me",
    "notifications": "/#/notifications",
    "health": "/#/health",
    "vitals": "/#/vitals",
    "diet": "/#/diet",
    "services": "/#/services",
    "orders": "/#/orders",
    "chat": "/#/chat",
    "contracts": "/#/contracts",
    "login": "/#/login",
    "register": "/#/register",
}
DOCTOR_PAGES = {
    "doctor-account": "/#/me",
    "doctor-appointments": "/#/appointments",
    "doctor-shared": "/#/shared",
    "doctor-patients": "/#/contracts",
    "admin-account": "/#/me",
}


@pytest.mark.parametrize(("width", "height"), [(360, 740), (1280, 800)], ids=["phone", "desktop"])
def test_every_page_fits_the_screen_and_passes_an_accessibility_check(
    page: webdriver.Chrome, demo_server: Server, width: int, height: int
) -> None:
    set_viewport(page, width, height)
    _log_in(page, *DEMO_PATIENT[:1], DEMO_PASSWORD)
    for name, path in [*PAGES.items(), *DOCTOR_PAGES.items()]:
        if name == "doctor-account":  # the doctor's own pages, as the doctor
            _log_in_as(page, demo_server.base_url, DOCTOR_PHONE, "doctor")
        if name == "admin-account":
            _log_in_as(page, demo_server.base_url, DEMO_ADMIN[0], "admin")
        page.get(demo_server.base_url + path)
        wait_for(page, lambda b: b.execute_script("return !!document.querySelector('main h1')"))
        wait_for(page, lambda b: not b.find_elements(By.CSS_SELECTOR, ".spinner"))
        # The right edge of the widest element (a phone's browser would rather widen the page
        # than clip it, so the page's own width says nothing).
        right = page.execute_script(
            "return Math.max(...[...document.body.querySelectorAll('*')]"
            ".map((e) => e.getBoundingClientRect().right))"
        )
        assert right <= width, f"{name} reaches {right}px on a {width}px screen"
        screenshot(page, f"{name}-{width}x{height}")
        serious = [
            v for v in accessibility_violations(page) if v["impact"] in ("serious", "critical")
        ]
        assert not serious, (name, width, serious)
