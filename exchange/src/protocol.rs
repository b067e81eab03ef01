//! Bitswap's protocol names and stream framing: messages prefixed with their length as an
//! unsigned varint, at most [`MAX_MESSAGE_SIZE`] each, as many as the sender likes per stream.

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::message::{DecodeError, MAX_MESSAGE_SIZE, Message, Version};

/// The protocol names, newest first, with the version each speaks.
pub const PROTOCOLS: [(&str, Version); 4] = [
    ("/ipfs/bitswap/1.2.0", Version::V1_2),
    ("/ipfs/bitswap/1.1.0", Version::V1_1),
    ("/ipfs/bitswap/1.0.0", Version::V1_0),
    ("/ipfs/bitswap", Version::V1_0),
];

/// Why a message could not be read from a stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The stream failed or ended inside a message.
    #[error("bitswap stream: {0}")]
    Io(#[from] std::io::Error),
    /// The length prefix is over [`MAX_MESSAGE_SIZE`]; nothing more is read.
    #[error("bitswap message of {0} bytes is over the 4 MiB limit")]
    TooLarge(u64),
    /// The length prefix is not a varint.
    #[error("malformed length prefix")]
    Length,
    /// The message is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Reads the next message, or `None` at a clean end of stream.
pub async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<Option<Message>, ReadError> {
    match read_length(stream).await? {
        Some(len) => read_body(stream, len).await.map(Some),
        None => Ok(None),
    }
}

/// Reads the next message's length prefix, checked against [`MAX_MESSAGE_SIZE`]; `None` at a
/// clean end of stream. With [`read_body`], for a reader that reserves memory for a message
/// before reading it.
pub async fn read_length<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Option<usize>, ReadError> {
    let mut len: u64 = 0;
    for i in 0..10 {
        let mut byte = [0u8];
        if stream.read(&mut byte).await? == 0 {
            return if i == 0 {
                Ok(None)
            } else {
                Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into())
            };
        }
        len |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            if len > MAX_MESSAGE_SIZE as u64 {
                return Err(ReadError::TooLarge(len));
            }
            return Ok(Some(len as usize));
        }
    }
    Err(ReadError::Length)
}

/// Reads and decodes a message of `len` bytes (at most [`MAX_MESSAGE_SIZE`]).
pub async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    len: usize,
) -> Result<Message, ReadError> {
    if len > MAX_MESSAGE_SIZE {
        return Err(ReadError::TooLarge(len as u64));
    }
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await?;
    Ok(Message::decode(&buf)?)
}

/// Writes one message for a peer speaking `version` and flushes.
pub async fn write_message<S: AsyncWrite + Unpin>(
    stream: &mut S,
    message: &Message,
    version: Version,
) -> std::io::Result<()> {
    let bytes = message.encode(version);
    let mut prefix = unsigned_varint::encode::usize_buffer();
    stream
        .write_all(unsigned_varint::encode::usize(bytes.len(), &mut prefix))
        .await?;
    stream.write_all(&bytes).await?;
    stream.flush().await
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::Cursor;

    use super::*;
    use crate::{Block, Codec, Hash};

    #[test]
    fn messages_follow_each_other_on_one_stream() {
        let block = Block::encode(Codec::Raw, Hash::Sha2_256, &b"x"[..]).expect("block");
        let first = Message {
            blocks: vec![block],
            ..Message::default()
        };
        let second = Message {
            full: true,
            ..Message::default()
        };
        let mut wire = Vec::new();
        block_on(async {
            write_message(&mut wire, &first, Version::V1_2)
                .await
                .expect("write");
            write_message(&mut wire, &second, Version::V1_2)
                .await
                .expect("write");
            let mut reader = Cursor::new(wire);
            assert_eq!(read_message(&mut reader).await.expect("read"), Some(first));
            assert_eq!(read_message(&mut reader).await.expect("read"), Some(second));
            assert_eq!(read_message(&mut reader).await.expect("read"), None);
        });
    }

    #[test]
    fn oversize_and_truncated_frames_are_refused() {
        block_on(async {
            let mut prefix = unsigned_varint::encode::usize_buffer();
            let big = unsigned_varint::encode::usize(MAX_MESSAGE_SIZE + 1, &mut prefix).to_vec();
            assert!(matches!(
                read_message(&mut Cursor::new(big)).await,
                Err(ReadError::TooLarge(_))
            ));
            let truncated = vec![0x05, 0x0a];
            assert!(matches!(
                read_message(&mut Cursor::new(truncated)).await,
                Err(ReadError::Io(_))
            ));
            let endless = vec![0xff; 11];
            assert!(matches!(
                read_message(&mut Cursor::new(endless)).await,
                Err(ReadError::Length)
            ));
        });
    }
}
