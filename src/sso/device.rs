//! The device-code sign-in (RFC 8628 as IAM Identity Center speaks it), as a
//! pure state machine: it never sleeps, reads a clock or makes a call. The
//! caller polls CreateToken, tells the machine what came back and how long
//! the flow has run, and does what the returned [`Step`] says. That keeps
//! every timing rule (the server's interval, `slow_down`'s extra 5 seconds,
//! giving up when the device code dies) testable without a server.

use std::time::Duration;

/// What the `interval` defaults to when the server sends none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// What `expiresIn` defaults to when the server sends none.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(600);
/// How much `slow_down` adds to the polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Transient failures in a row (timeouts, 5xx) tolerated while the person
/// approves; one more stops the flow.
pub const MAX_TRANSIENT_FAILURES: u32 = 3;

/// The outcome of one CreateToken poll, as far as the flow cares.
#[derive(Debug)]
pub enum PollOutcome<T, E> {
    /// `authorization_pending`: the person has not approved yet.
    Pending,
    /// `slow_down`: polling too fast.
    SlowDown,
    /// `expired_token`: the device code died before approval.
    ExpiredToken,
    /// `access_denied`: the person declined in the browser.
    AccessDenied,
    /// A token.
    Success(T),
    /// A blip (timeout, dropped connection, 5xx): poll again, a few times.
    Transient(E),
    /// Anything else; the flow stops with it.
    Failed(E),
}

/// Why the flow stopped without a token.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped<E> {
    /// The device code expired before it was approved.
    CodeExpired,
    /// The person declined.
    Denied,
    /// Another error, passed through.
    Failed(E),
}

/// What to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T, E> {
    /// Wait this long, then poll again.
    Wait(Duration),
    /// Signed in.
    Done(T),
    /// Give up.
    Stop(Stopped<E>),
}

/// The polling state of one device authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFlow {
    interval: Duration,
    expires_in: Duration,
    transient_failures: u32,
}

impl DeviceFlow {
    /// From StartDeviceAuthorization's `interval` and `expiresIn` (seconds;
    /// zero or negative means "not sent").
    pub fn new(interval_secs: i32, expires_in_secs: i32) -> Self {
        let secs = |v: i32, default: Duration| {
            if v > 0 {
                Duration::from_secs(v as u64)
            } else {
                default
            }
        };
        DeviceFlow {
            interval: secs(interval_secs, DEFAULT_INTERVAL),
            expires_in: secs(expires_in_secs, DEFAULT_EXPIRES_IN),
            transient_failures: 0,
        }
    }

    /// The current polling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// How long the device code lives from the start of the flow.
    pub fn expires_in(&self) -> Duration {
        self.expires_in
    }

    /// The wait before the first poll: the person needs a moment anyway.
    pub fn first_step<T, E>(&self) -> Step<T, E> {
        Step::Wait(self.interval)
    }

    /// Decide the next step from a poll's outcome, `elapsed` being the time
    /// since the device authorization started.
    pub fn on_poll<T, E>(&mut self, outcome: PollOutcome<T, E>, elapsed: Duration) -> Step<T, E> {
        if !matches!(outcome, PollOutcome::Transient(_)) {
            self.transient_failures = 0;
        }
        match outcome {
            PollOutcome::Success(token) => Step::Done(token),
            PollOutcome::Transient(e) => {
                self.transient_failures += 1;
                if self.transient_failures > MAX_TRANSIENT_FAILURES {
                    Step::Stop(Stopped::Failed(e))
                } else {
                    self.wait_or_expire(elapsed)
                }
            }
            PollOutcome::ExpiredToken => Step::Stop(Stopped::CodeExpired),
            PollOutcome::AccessDenied => Step::Stop(Stopped::Denied),
            PollOutcome::Failed(e) => Step::Stop(Stopped::Failed(e)),
            PollOutcome::Pending => self.wait_or_expire(elapsed),
            PollOutcome::SlowDown => {
                self.interval += SLOW_DOWN_STEP;
                self.wait_or_expire(elapsed)
            }
        }
    }

    /// Wait one interval, unless the code will be dead before the next poll.
    fn wait_or_expire<T, E>(&self, elapsed: Duration) -> Step<T, E> {
        if elapsed + self.interval >= self.expires_in {
            Step::Stop(Stopped::CodeExpired)
        } else {
            Step::Wait(self.interval)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Out = PollOutcome<&'static str, &'static str>;
    type S = Step<&'static str, &'static str>;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn defaults_apply_when_the_server_sends_nothing() {
        let flow = DeviceFlow::new(0, -1);
        assert_eq!(flow.interval(), DEFAULT_INTERVAL);
        assert_eq!(flow.expires_in(), DEFAULT_EXPIRES_IN);
    }

    #[test]
    fn first_poll_waits_one_interval() {
        let flow = DeviceFlow::new(2, 600);
        assert_eq!(flow.first_step::<(), ()>(), Step::Wait(secs(2)));
    }

    #[test]
    fn pending_waits_the_server_interval() {
        let mut flow = DeviceFlow::new(3, 600);
        let step: S = flow.on_poll(Out::Pending, secs(3));
        assert_eq!(step, Step::Wait(secs(3)));
    }

    #[test]
    fn slow_down_adds_five_seconds_and_it_sticks() {
        let mut flow = DeviceFlow::new(5, 600);
        assert_eq!(
            flow.on_poll::<&str, &str>(Out::SlowDown, secs(5)),
            Step::Wait(secs(10))
        );
        assert_eq!(
            flow.on_poll::<&str, &str>(Out::SlowDown, secs(15)),
            Step::Wait(secs(15))
        );
        assert_eq!(
            flow.on_poll::<&str, &str>(Out::Pending, secs(30)),
            Step::Wait(secs(15))
        );
    }

    #[test]
    fn success_is_done() {
        let mut flow = DeviceFlow::new(5, 600);
        assert_eq!(
            flow.on_poll(Out::Success("token"), secs(10)),
            Step::Done("token")
        );
    }

    #[test]
    fn expired_token_stops() {
        let mut flow = DeviceFlow::new(5, 600);
        let step: S = flow.on_poll(Out::ExpiredToken, secs(10));
        assert_eq!(step, Step::Stop(Stopped::CodeExpired));
    }

    #[test]
    fn access_denied_stops() {
        let mut flow = DeviceFlow::new(5, 600);
        let step: S = flow.on_poll(Out::AccessDenied, secs(10));
        assert_eq!(step, Step::Stop(Stopped::Denied));
    }

    #[test]
    fn other_errors_pass_through() {
        let mut flow = DeviceFlow::new(5, 600);
        let step: S = flow.on_poll(Out::Failed("invalid_client"), secs(10));
        assert_eq!(step, Step::Stop(Stopped::Failed("invalid_client")));
    }

    #[test]
    fn gives_up_when_the_code_dies_before_the_next_poll() {
        let mut flow = DeviceFlow::new(5, 60);
        let step: S = flow.on_poll(Out::Pending, secs(54));
        assert_eq!(step, Step::Wait(secs(5)));
        let step: S = flow.on_poll(Out::Pending, secs(55));
        assert_eq!(step, Step::Stop(Stopped::CodeExpired));
        let step: S = flow.on_poll(Out::SlowDown, secs(40));
        assert_eq!(step, Step::Wait(secs(10)));
        let step: S = flow.on_poll(Out::SlowDown, secs(45));
        assert_eq!(step, Step::Stop(Stopped::CodeExpired));
    }

    #[test]
    fn a_few_transient_failures_are_tolerated() {
        let mut flow = DeviceFlow::new(5, 600);
        for i in 0..MAX_TRANSIENT_FAILURES {
            let step: S = flow.on_poll(Out::Transient("timeout"), secs(5 + 5 * i as u64));
            assert_eq!(step, Step::Wait(secs(5)));
        }
        let step: S = flow.on_poll(Out::Transient("timeout"), secs(30));
        assert_eq!(step, Step::Stop(Stopped::Failed("timeout")));
    }

    #[test]
    fn a_normal_answer_resets_the_transient_count() {
        let mut flow = DeviceFlow::new(5, 600);
        for _ in 0..MAX_TRANSIENT_FAILURES {
            let _: S = flow.on_poll(Out::Transient("timeout"), secs(5));
        }
        let _: S = flow.on_poll(Out::Pending, secs(10));
        let step: S = flow.on_poll(Out::Transient("timeout"), secs(15));
        assert_eq!(step, Step::Wait(secs(5)));
    }

    #[test]
    fn a_success_after_expiry_still_counts() {
        // The server decides; a token that arrived is a token.
        let mut flow = DeviceFlow::new(5, 60);
        assert_eq!(flow.on_poll(Out::Success("t"), secs(70)), Step::Done("t"));
    }
}
