//! Binding a unix-domain stream socket at a path: a stale socket file is replaced only if it is a
//! socket that nothing answers on; any other existing file is refused. [`SocketFile`] removes the
//! file again when the server is done.

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::listen::BACKLOG;

/// Why a unix socket path cannot be listened on. Each message names the path.
#[derive(Debug, thiserror::Error)]
pub enum UnixBindError {
    /// Something that is not a socket already exists at the path.
    #[error("{path}: exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// A server already answers on the socket at the path.
    #[error("{path}: another server is listening on this socket")]
    InUse {
        /// The path.
        path: PathBuf,
    },
    /// The path could not be inspected, cleared or bound.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The socket file of a listening unix socket; removes it when dropped (if it is still the socket this
/// server bound).
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    inode: u64,
}

impl SocketFile {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        // Only remove the file if it is still ours: another server may have taken the path since.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds a listening unix-domain stream socket at `path` with the same backlog as TCP. An existing
/// socket file that refuses connections (a server that died) is replaced; anything else at the path
/// is an error.
pub fn bind_unix(path: &Path) -> Result<(UnixListener, SocketFile), UnixBindError> {
    let io_err = |source| UnixBindError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(UnixBindError::NotASocket {
                path: path.to_path_buf(),
            });
        }
        Ok(_) => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(UnixBindError::InUse {
                    path: path.to_path_buf(),
                });
            }
            Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "replacing a stale socket file");
                std::fs::remove_file(path).map_err(io_err)?;
            }
            Err(err) => return Err(io_err(err)),
        },
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(io_err(err)),
    }
    let listener = (|| {
        let socket = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(BACKLOG)?;
        Ok(UnixListener::from(std::os::fd::OwnedFd::from(socket)))
    })()
    .map_err(io_err)?;
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path).map_err(io_err)?.ino()
    };
    Ok((
        listener,
        SocketFile {
            path: path.to_path_buf(),
            inode,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("unix-socket-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join(name)
    }

    #[test]
    fn binds_serves_and_removes_its_file() {
        let path = temp_path("fresh.sock");
        let (listener, file) = bind_unix(&path).expect("bind");
        let _client = UnixStream::connect(&path).expect("connect");
        assert!(listener.accept().is_ok());
        drop(file);
        assert!(!path.exists());
    }

    #[test]
    fn refuses_a_live_socket_and_replaces_a_stale_one() {
        let path = temp_path("stale.sock");
        let (listener, file) = bind_unix(&path).expect("bind");
        assert!(matches!(bind_unix(&path), Err(UnixBindError::InUse { .. })));
        drop(listener); // the file stays: a server that died without cleaning up
        std::mem::forget(file);
        let (_listener, _file) = bind_unix(&path).expect("stale socket replaced");
    }

    #[test]
    fn refuses_a_regular_file() {
        let path = temp_path("regular.txt");
        std::fs::write(&path, b"keep me").expect("write");
        let err = bind_unix(&path).expect_err("refused");
        assert!(matches!(err, UnixBindError::NotASocket { .. }));
        assert!(err.to_string().contains("regular.txt"));
        assert_eq!(std::fs::read(&path).expect("still there"), b"keep me");
    }
}
