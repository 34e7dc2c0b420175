//! Step 7, prod only: the operator types the environment's name to go on (`--auto-approve`
//! skips this).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::ensure;

use super::Deploy;
use crate::environment::Env;

impl Deploy<'_> {
    pub(super) fn must_confirm(&self) -> bool {
        self.env == Env::Prod && !self.args.auto_approve
    }

    /// Reads one line from stdin (a terminal or not); anything but the environment's name
    /// stops the deploy.
    pub(super) fn confirm(&self) -> crate::Result<()> {
        self.typed_confirmation(
            "apply this to",
            "the deploy (--auto-approve skips this)",
            "applied",
        )
    }

    /// Asks to type the environment's name to `action` it; anything else stops `what` and says
    /// nothing was `done`.
    pub(super) fn typed_confirmation(
        &self,
        action: &str,
        what: &str,
        done: &str,
    ) -> crate::Result<()> {
        let env = self.env.name();
        if self.dry {
            self.say(format!(
                "-> asks to type `{env}`; anything else stops {what}"
            ));
            return Ok(());
        }
        print!("      Type `{env}` to {action} {env}: ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        let stdin = std::io::stdin();
        stdin.lock().read_line(&mut answer)?;
        if !stdin.is_terminal() {
            // A terminal echoed the answer and its newline; a pipe did not.
            println!();
        }
        let answer = answer.trim();
        ensure!(
            answer == env,
            "not confirmed (the answer was `{answer}`, not `{env}`): nothing was {done}"
        );
        Ok(())
    }
}
