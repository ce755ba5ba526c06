//! minyi-vault: the cryptography of minyi, in one small crate with no IO.
