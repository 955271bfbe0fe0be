"""The order panel's suggestions on the board: the order's own technician is labelled and
offers no button (choosing them would change nothing)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_board import move, new_order, open_board, order_item, show_queue, token


def test_the_current_technician_is_labelled_and_offers_no_assign_button(browser, live_server, live_network):
    base, _ = live_server
    south = live_network["techs"][1]
    dispatcher = token(base, "dispatcher")
    order = move(base, dispatcher, new_order(base, dispatcher, "13800138000", lat=34.20, lon=108.95), "assign",
                 technician_id=south)  # fmt: skip
    context, page = open_board(browser, base, size=(1440, 900))
    try:
        show_queue(page, "in_progress")
        order_item(page, order["id"]).click()
        page.locator("#assign-row button").click()

        current = page.locator(f'#suggestions-box li[data-tech-id="{south}"]')
        expect(current).to_contain_text("Tech 2 (current technician)")
        expect(current).to_contain_text("has it already")
        expect(current.locator("button")).to_have_count(0)
        other = page.locator(f'#suggestions-box li[data-tech-id="{live_network["techs"][0]}"]')
        expect(other.locator("button")).to_have_count(1)
    finally:
        context.close()
