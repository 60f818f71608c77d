"""INT-1: the server read by someone else's SIP2 client (the `Sip2` package from PyPI),
not only by our own codec: login, SC status, patron status, checkout, item information,
checkin, as a self-check machine does them."""

from __future__ import annotations

from tests.sip2.conftest import PIN, TERMINAL_PASSWORD


def test_pypi_sip2_client_self_check_flow_int_1(world, tmp_path):
    from Sip2.sip2 import Sip2

    patron = world.patron()
    item = world.item()
    sip = Sip2()
    sip.hostName = "127.0.0.1"
    sip.hostPort = world.server.port
    sip.tlsEnable = False
    sip.socketTimeout = 30
    sip.logfile_path = str(tmp_path)  # its log goes here, not into the working folder
    sip.institutionId = "SNORTH"
    sip.patron = patron.card
    sip.patronpwd = PIN
    assert sip.connect()
    try:
        login = sip.sip_login_response(
            sip.get_response(sip.sip_login_request("kiosk1", TERMINAL_PASSWORD))
        )
        assert login["fixed"]["Ok"] == "1"
        status = sip.sip_sc_status_response(sip.get_response(sip.sip_sc_status_request()))
        assert status["fixed"]["OnlineStatus"] == "Y"
        assert status["fixed"]["CheckoutOk"] == "Y"
        patron_status = sip.sip_patron_status_response(
            sip.get_response(sip.sip_patron_status_request())
        )
        assert patron_status["variable"]["BL"] == ["Y"]
        assert patron_status["variable"]["CQ"] == ["Y"]
        assert patron_status["variable"]["AE"] == [patron.given_name]
        out = sip.sip_checkout_response(sip.get_response(sip.sip_checkout_request(item.barcode)))
        assert out["fixed"]["Ok"] == "1", out
        assert out["variable"]["AB"] == [item.barcode]
        info = sip.sip_item_information_response(
            sip.get_response(sip.sip_item_information_request(item.barcode))
        )
        assert info["fixed"]["CirculationStatus"] == "04"
        back = sip.sip_checkin_response(sip.get_response(sip.sip_checkin_request(item.barcode)))
        assert back["fixed"]["Ok"] == "1", back
    finally:
        sip.disconnect()
