//! Taking a payment: read the shopper's code, create the charge (one idempotency key per sale),
//! then wait for the shopper's answer with long-polls, bounded by the charge's expiry.

use std::fmt;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use inkan_api::merchant::{Charge, CreateCharge};
use inkan_core::{ChargeStatus, Currency, Money, tokyo};
use tokio::time::Instant;

use crate::client::TerminalClient;
use crate::error::PosError;
use crate::receipt::time_jst;
use crate::scan;

/// The longest single long-poll the terminal asks for.
const LONG_POLL: Duration = Duration::from_secs(25);
/// How long past the charge's expiry the terminal keeps asking before it gives up: the server
/// expires a due charge within about a second, so this only covers clock drift and slow networks.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// The longest confirmation window the terminal believes, whatever the server says.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

/// Where the shopper's payment code comes from.
#[derive(Clone)]
pub enum CodeSource {
    /// Typed, pasted, or sent by a keyboard-wedge scanner.
    Text(String),
    /// A PNG or JPEG file: a camera photo or a screenshot.
    ImageFile(PathBuf),
    /// PNG or JPEG bytes.
    ImageBytes(Vec<u8>),
}

impl fmt::Debug for CodeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A payment code is a bearer credential for its lifetime: never print it whole.
            CodeSource::Text(text) => write!(f, "Text({} characters)", text.chars().count()),
            CodeSource::ImageFile(path) => f.debug_tuple("ImageFile").field(path).finish(),
            CodeSource::ImageBytes(bytes) => write!(f, "ImageBytes({} bytes)", bytes.len()),
        }
    }
}

impl CodeSource {
    /// The payment code's text, checked for shape. Reads and decodes an image; no network.
    pub fn read(&self) -> Result<String, PosError> {
        match self {
            CodeSource::Text(text) => scan::checked_code(text),
            CodeSource::ImageFile(path) => {
                let bytes = std::fs::read(path).map_err(|source| PosError::ImageFile { path: path.clone(), source })?;
                scan::code_from_image(&bytes)
            }
            CodeSource::ImageBytes(bytes) => scan::code_from_image(bytes),
        }
    }
}

/// One sale.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// Yen (JPY has no minor unit: 1280 is ¥1,280).
    pub amount: i64,
    pub description: Option<String>,
    pub code: CodeSource,
}

/// How the terminal shows that it is waiting for the shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A spinner on stderr with the amount, the merchant and a countdown (stderr is a terminal).
    Spinner,
    /// One line on stderr (stderr is a log or a pipe).
    Line,
    /// Nothing (tests, scripts that only want the receipt).
    Silent,
}

impl Feedback {
    /// A spinner when stderr is a terminal, otherwise one line.
    pub fn for_stderr() -> Feedback {
        if std::io::stderr().is_terminal() { Feedback::Spinner } else { Feedback::Line }
    }
}

/// Takes a payment: reads and checks the code (nothing is sent if it is not a payment code),
/// creates the charge, and waits until the shopper confirms or declines or the charge expires.
/// Returns the charge in its final state; its status says which.
pub async fn charge(client: &TerminalClient, request: &ChargeRequest, feedback: Feedback) -> Result<Charge, PosError> {
    let payment_code = request.code.read()?;
    let body = CreateCharge {
        payment_code,
        amount: request.amount,
        currency: Currency::Jpy,
        description: request.description.clone(),
    };
    // One key for this sale, whatever number of tries it takes: a second key could charge twice.
    let idempotency_key = uuid::Uuid::new_v4().to_string();
    let created = client.create_charge(&body, &idempotency_key).await?;
    wait_for_shopper(client, created, feedback).await
}

/// Long-polls `charge` until it is decided: neither waiting for the shopper nor held for Inkan's
/// review. Gives up (with [`PosError::OutcomeUnknown`]) a margin after the charge should have
/// expired; when Inkan approves a held charge, its new expiry counts.
pub async fn wait_for_shopper(client: &TerminalClient, charge: Charge, feedback: Feedback) -> Result<Charge, PosError> {
    // The window as the server measures it, counted down on this machine's monotonic clock: the
    // two machines' wall clocks need not agree.
    let window = Duration::try_from(charge.expires_at - charge.created_at).unwrap_or_default().min(MAX_WAIT);
    let mut expires = Instant::now() + window;
    let progress = Progress::show(feedback, &charge, expires);
    let mut current = charge;
    let mut pause = Duration::from_millis(250);
    let mut last_error = String::from("the server kept answering that the charge is not decided");
    while current.status.is_open() {
        let deadline = expires + EXPIRY_MARGIN;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            progress.finish();
            return Err(PosError::OutcomeUnknown { charge_id: current.id, last_error });
        }
        let poll = client.get_charge(&current.id, Some(LONG_POLL.min(left)));
        match tokio::time::timeout_at(deadline, poll).await {
            Ok(Ok(charge)) => {
                if charge.status != current.status || charge.expires_at != current.expires_at {
                    // Approved after review: the shopper's window moved by as much as the expiry.
                    expires = moved(expires, charge.expires_at - current.expires_at);
                    progress.status(&charge, expires);
                }
                current = charge;
                pause = Duration::from_millis(250);
            }
            // The server or the network failed for a moment: ask again until the deadline.
            Ok(Err(
                e @ (PosError::Unreachable { .. } | PosError::ConnectionLost { .. } | PosError::ServerFailing { .. }),
            )) => {
                last_error = e.to_string();
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()))).await;
                pause = pause.saturating_mul(2).min(Duration::from_secs(2));
            }
            Ok(Err(e)) => {
                progress.finish();
                return Err(e);
            }
            Err(_elapsed) => last_error = String::from("the last request did not finish in time"),
        }
    }
    progress.finish();
    Ok(current)
}

/// `at` moved by `by` (earlier when negative), within [`MAX_WAIT`] from now.
fn moved(at: Instant, by: time::Duration) -> Instant {
    let magnitude = Duration::try_from(by.abs()).unwrap_or(MAX_WAIT).min(MAX_WAIT);
    let at = if by.is_negative() { at.checked_sub(magnitude).unwrap_or(at) } else { at + magnitude };
    at.min(Instant::now() + MAX_WAIT)
}

/// The "waiting for the shopper" (or "Inkan is checking") display.
struct Progress {
    feedback: Feedback,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn show(feedback: Feedback, charge: &Charge, expires: Instant) -> Progress {
        let bar = (feedback == Feedback::Spinner).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        let progress = Progress { feedback, bar };
        progress.status(charge, expires);
        progress
    }

    /// Says what the charge waits for now.
    fn status(&self, charge: &Charge, expires: Instant) {
        let amount = Money::new(charge.currency, charge.amount);
        let merchant = crate::receipt::printable(&charge.merchant_name);
        let waiting = if charge.status == ChargeStatus::HeldForReview {
            format!("Inkan is checking this payment of {amount} to {merchant} before the shopper can confirm it")
        } else {
            format!("Waiting for the shopper to confirm {amount} to {merchant}")
        };
        match (self.feedback, &self.bar) {
            (Feedback::Silent, _) => {}
            (Feedback::Spinner, Some(bar)) => {
                bar.set_style(spinner_style(expires).unwrap_or_else(|_| ProgressStyle::default_spinner()));
                bar.set_message(waiting);
            }
            _ => eprintln!(
                "{waiting} (charge {}, expires at {})",
                charge.id,
                time_jst(charge.expires_at.to_offset(tokyo::JST))
            ),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The spinner's line, with a countdown to `expires` redrawn at every tick.
fn spinner_style(expires: Instant) -> Result<ProgressStyle, indicatif::style::TemplateError> {
    let countdown = move |_: &ProgressState, w: &mut dyn fmt::Write| {
        let left = expires.saturating_duration_since(Instant::now()).as_secs();
        let _ = write!(w, "{}:{:02}", left / 60, left % 60);
    };
    Ok(ProgressStyle::with_template("{spinner} {msg} · expires in {countdown}")?.with_key("countdown", countdown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinner_template_is_valid() {
        assert!(spinner_style(Instant::now() + Duration::from_secs(120)).is_ok());
    }

    #[tokio::test]
    async fn an_expiry_moves_both_ways_and_never_past_the_longest_wait() {
        let now = Instant::now();
        let at = now + Duration::from_secs(600);
        assert_eq!(moved(at, time::Duration::seconds(-480)), now + Duration::from_secs(120));
        assert_eq!(moved(at, time::Duration::seconds(60)), now + Duration::from_secs(660));
        assert!(moved(at, time::Duration::days(365)) <= Instant::now() + MAX_WAIT);
    }

    #[test]
    fn debug_of_a_typed_code_hides_it() {
        assert_eq!(format!("{:?}", CodeSource::Text("SECRETCODE".into())), "Text(10 characters)");
    }
}
