//! The receipt: plain text for the cashier's screen or a receipt printer, amounts as `¥1,280`,
//! times in Tokyo time whatever the terminal's time zone.

use std::fmt::Write;

use inkan_api::merchant::Charge;
use inkan_core::{ChargeStatus, Money, tokyo};
use time::OffsetDateTime;
use time::macros::format_description;

/// The receipt of a charge, one `label  value` line each, ending in a newline.
pub fn receipt(charge: &Charge) -> String {
    let amount = Money::new(charge.currency, charge.amount);
    let mut out = format!("{}\n", headline(charge.status));
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{label:<12} {value}");
    };
    line("merchant", &printable(&charge.merchant_name));
    line("amount", &amount.to_string());
    if let Some(description) = &charge.description {
        line("description", &printable(description));
    }
    line("charge", &printable(&charge.id));
    line("status", charge.status.as_str());
    line("time", &time_jst(charge.decided_at.unwrap_or(charge.created_at)));
    if let Some(refunded_at) = charge.refunded_at {
        line("refunded", &time_jst(refunded_at));
    }
    out
}

fn headline(status: ChargeStatus) -> &'static str {
    match status {
        ChargeStatus::Succeeded => "PAID",
        ChargeStatus::Declined => "NOT PAID: declined by the shopper",
        ChargeStatus::Expired => "NOT PAID: the shopper did not confirm in time",
        ChargeStatus::PendingConfirmation => "WAITING for the shopper to confirm",
        ChargeStatus::HeldForReview => "WAITING: Inkan is checking this payment",
        ChargeStatus::Refunded => "REFUNDED",
    }
}

/// `2026-06-10 12:00:30 JST`.
pub fn time_jst(t: OffsetDateTime) -> String {
    let t = t.to_offset(tokyo::JST);
    match t.format(format_description!("[year]-[month]-[day] [hour]:[minute]:[second]")) {
        Ok(text) => format!("{text} JST"),
        Err(_) => t.to_string(),
    }
}

/// Text from the server with control characters replaced, so that a merchant name or a message
/// cannot move the cursor or recolour the cashier's terminal.
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use inkan_core::Currency;
    use time::macros::datetime;

    fn charge(status: ChargeStatus) -> Charge {
        Charge {
            id: "ch_0123".into(),
            status,
            amount: 1280,
            currency: Currency::Jpy,
            description: Some("coffee and onigiri".into()),
            merchant_id: "mer_1".into(),
            merchant_name: "FamilyMart Shibuya".into(),
            created_at: datetime!(2026-06-10 03:00:00 UTC),
            expires_at: datetime!(2026-06-10 03:02:00 UTC),
            decided_at: Some(datetime!(2026-06-10 03:00:42 UTC)),
            refunded_at: None,
        }
    }

    #[test]
    fn receipt_shows_yen_merchant_and_tokyo_time() {
        assert_eq!(
            receipt(&charge(ChargeStatus::Succeeded)),
            "PAID\n\
             merchant     FamilyMart Shibuya\n\
             amount       ¥1,280\n\
             description  coffee and onigiri\n\
             charge       ch_0123\n\
             status       succeeded\n\
             time         2026-06-10 12:00:42 JST\n"
        );
    }

    #[test]
    fn receipt_of_an_undecided_or_refunded_charge() {
        let mut pending = charge(ChargeStatus::PendingConfirmation);
        pending.decided_at = None;
        pending.description = None;
        pending.amount = 1_234_567;
        let text = receipt(&pending);
        assert!(text.starts_with("WAITING"), "{text}");
        assert!(text.contains("amount       ¥1,234,567\n") && !text.contains("description"), "{text}");
        assert!(text.contains("time         2026-06-10 12:00:00 JST\n"), "{text}");

        let mut refunded = charge(ChargeStatus::Refunded);
        refunded.refunded_at = Some(datetime!(2026-06-10 15:30:00 UTC));
        // 15:30 UTC is half past midnight the next day in Tokyo.
        assert!(receipt(&refunded).ends_with("refunded     2026-06-11 00:30:00 JST\n"));
    }

    #[test]
    fn control_characters_from_the_server_do_not_reach_the_terminal() {
        let mut evil = charge(ChargeStatus::Succeeded);
        evil.merchant_name = "Shop\u{1b}[2J\r\nPAID ¥1".into();
        let text = receipt(&evil);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'));
        assert_eq!(text.lines().count(), 7);
    }
}
