//! `cargo xtask secrets set-gemini-key --env …`: writes the Gemini API key into the
//! environment's Secrets Manager secret (Terraform creates the secret, never its value).
//!
//! The key comes from stdin only: typed at a prompt that does not echo, or one line from a
//! pipe. Never from an argument (shell history, `ps`), and it is never printed: the command
//! reports the new secret version and a short SHA-256 fingerprint, which tells two keys apart
//! without revealing either (`printf %s "$KEY" | sha256sum | cut -c1-12` gives the same).

use imagegen::secrets::ExposeSecret;
use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};
use imagegen::domain::keys::sha256_hex;
use imagegen::secrets::SecretString;
use xshell::Shell;

use crate::aws::AwsContext;
use crate::flags::{SecretsArgs, SecretsCommand, SetGeminiKeyArgs};

/// Far above any API key; stops a wrong file piped in by mistake from being read whole.
const MAX_KEY_LEN: usize = 1024;

pub fn run(sh: &Shell, args: SecretsArgs) -> crate::Result<()> {
    match args.command {
        SecretsCommand::SetGeminiKey(args) => set_gemini_key(sh, args),
    }
}

fn set_gemini_key(sh: &Shell, args: SetGeminiKeyArgs) -> crate::Result<()> {
    if !args.stray.is_empty() {
        // Refused without echoing it: it may be the key.
        bail!(
            "set-gemini-key takes the key on stdin, not as an argument (arguments stay in shell \
             history and the process list): pipe it in, or run the command alone and type it at \
             the hidden prompt"
        );
    }
    let runtime = crate::aws::runtime()?;
    let connected = crate::ops::connect(sh, &runtime, args.env)?;
    // After the preflight, so nobody types a key into a command that then fails to connect.
    let key = read_key(args.env)?;
    let secret_arn = &connected.outputs.gemini_secret_arn;
    let out = runtime
        .block_on(
            aws_sdk_secretsmanager::Client::new(&connected.sdk)
                .put_secret_value()
                .secret_id(secret_arn)
                .secret_string(key.expose_secret())
                .send(),
        )
        .aws_context(|| format!("secretsmanager:PutSecretValue {secret_arn}"))?;
    println!(
        "version {}  fingerprint {}",
        out.version_id().unwrap_or("(none)"),
        fingerprint(&key)
    );
    eprintln!(
        "stored the Gemini key in {secret_arn}; the worker uses it within {} minutes, or at \
         once after Gemini refuses the old one",
        imagegen::secrets::DEFAULT_TTL.as_secs() / 60
    );
    Ok(())
}

fn read_key(env: crate::environment::Env) -> crate::Result<SecretString> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let typed = rpassword::prompt_password(format!(
            "Gemini API key for {env} (input hidden, Enter to finish): "
        ))
        .context("cannot read the key from the terminal")?;
        return Ok(parse_key(typed.as_bytes())?);
    }
    let mut input = Vec::new();
    stdin
        .lock()
        .take(MAX_KEY_LEN as u64 + 2)
        .read_to_end(&mut input)
        .context("cannot read the key from stdin")?;
    Ok(parse_key(&input)?)
}

/// Why an input is not taken for a key. The messages never quote the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadKey {
    #[error("no key on stdin: pipe it in (one line) or type it at the prompt")]
    Empty,
    #[error("stdin holds several lines: give the key alone, on one line")]
    MultiLine,
    #[error(
        "the key holds spaces, control or non-ASCII characters: a Gemini API key is printable \
         ASCII only"
    )]
    NotPrintable,
    #[error("the input is over {MAX_KEY_LEN} characters: that is not an API key")]
    TooLong,
}

/// One line, surrounding whitespace trimmed, printable ASCII.
pub fn parse_key(input: &[u8]) -> Result<SecretString, BadKey> {
    let text = std::str::from_utf8(input).map_err(|_| BadKey::NotPrintable)?;
    let key = text.trim();
    if key.is_empty() {
        return Err(BadKey::Empty);
    }
    if key.contains(['\n', '\r']) {
        return Err(BadKey::MultiLine);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(BadKey::TooLong);
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(BadKey::NotPrintable);
    }
    Ok(SecretString::from(key))
}

/// `sha256:` and the first 12 hex digits of the key's SHA-256.
pub fn fingerprint(key: &SecretString) -> String {
    let digest = sha256_hex(key.expose_secret());
    format!("sha256:{}", &digest[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trimmed_printable_line_is_a_key() {
        let key = parse_key(b"  AIzaSyExample-key_123 \r\n").unwrap();
        assert_eq!(key.expose_secret(), "AIzaSyExample-key_123");
        assert_eq!(parse_key(b"AIza\n\n").unwrap().expose_secret(), "AIza");
    }

    #[test]
    fn anything_else_is_refused_with_a_reason_that_does_not_quote_it() {
        for (input, why) in [
            (&b""[..], BadKey::Empty),
            (b" \n\t\n", BadKey::Empty),
            (b"AIza-one\nAIza-two\n", BadKey::MultiLine),
            (b"AIza\r\nmore", BadKey::MultiLine),
            (b"AIza key", BadKey::NotPrintable),
            (b"AIza\x07bell", BadKey::NotPrintable),
            (b"AIza\xff", BadKey::NotPrintable),
            ("AIzaé".as_bytes(), BadKey::NotPrintable),
        ] {
            let err = parse_key(input).unwrap_err();
            assert_eq!(err, why, "{input:?}");
            assert!(!err.to_string().contains("AIza"));
        }
        assert_eq!(
            parse_key("A".repeat(MAX_KEY_LEN + 1).as_bytes()).unwrap_err(),
            BadKey::TooLong
        );
    }

    #[test]
    fn the_fingerprint_is_a_short_digest_prefix() {
        let key = SecretString::from("AIzaSyExample");
        let print = fingerprint(&key);
        assert_eq!(print.len(), "sha256:".len() + 12);
        assert!(sha256_hex("AIzaSyExample").starts_with(&print["sha256:".len()..]));
        assert!(!print.contains("AIza"));
    }
}
