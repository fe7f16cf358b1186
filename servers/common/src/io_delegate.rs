//! A macro for the futures-io runtimes (async-std, smol): implements `AsyncRead` and `AsyncWrite` for
//! an enum of streams by delegating each poll to the variant it holds, so that a connection enum
//! (TCP, unix, TLS) is one type the apps are written against.

/// Re-exported so that [`delegate_futures_io!`](crate::delegate_futures_io) expands in any crate.
#[doc(hidden)]
pub use futures_lite::io::{AsyncRead as __AsyncRead, AsyncWrite as __AsyncWrite};

/// `delegate_futures_io!(Type { Type::A, Type::B })` implements futures-io's `AsyncRead` and
/// `AsyncWrite` (vectored writes included) for an enum whose variants each hold one stream;
/// `delegate_futures_io!(read Type { .. })` only `AsyncRead`, `(write Type { .. })` only `AsyncWrite`.
#[macro_export]
macro_rules! delegate_futures_io {
    ($ty:ty { $($variant:path),+ $(,)? }) => {
        $crate::delegate_futures_io!(read $ty { $($variant),+ });
        $crate::delegate_futures_io!(write $ty { $($variant),+ });
    };
    (read $ty:ty { $($variant:path),+ $(,)? }) => {
        impl $crate::io_delegate::__AsyncRead for $ty {
            fn poll_read(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &mut [u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    $($variant(s) => ::std::pin::Pin::new(s).poll_read(cx, buf),)+
                }
            }
        }
    };
    (write $ty:ty { $($variant:path),+ $(,)? }) => {
        impl $crate::io_delegate::__AsyncWrite for $ty {
            fn poll_write(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                buf: &[u8],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    $($variant(s) => ::std::pin::Pin::new(s).poll_write(cx, buf),)+
                }
            }

            fn poll_write_vectored(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
                bufs: &[::std::io::IoSlice<'_>],
            ) -> ::std::task::Poll<::std::io::Result<usize>> {
                match self.get_mut() {
                    $($variant(s) => ::std::pin::Pin::new(s).poll_write_vectored(cx, bufs),)+
                }
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    $($variant(s) => ::std::pin::Pin::new(s).poll_flush(cx),)+
                }
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<::std::io::Result<()>> {
                match self.get_mut() {
                    $($variant(s) => ::std::pin::Pin::new(s).poll_close(cx),)+
                }
            }
        }
    };
}
