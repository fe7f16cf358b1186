//! Process limits: open files, ephemeral ports, CPU affinity.

use std::io;

use crate::error::{Error, Result};

/// File descriptors the generator needs besides its connections (stdio,
/// epoll instances, wakers, /proc reads, the json/csv files, ...).
pub const FD_RESERVE: u64 = 64;

/// The (soft, hard) `RLIMIT_NOFILE` of this process.
pub fn nofile() -> io::Result<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Ok((r.rlim_cur as u64, r.rlim_max as u64))
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft
/// limit.
pub fn raise_nofile() -> io::Result<u64> {
    let (soft, hard) = nofile()?;
    if soft < hard {
        let r = libc::rlimit {
            rlim_cur: hard as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: `r` is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(nofile()?.0)
}

/// Checks that `conns` connections fit in this process: raises the fd limit
/// and compares it, and the ephemeral port range per source address, with
/// the request. The error says which limit is in the way and by how much.
pub fn ensure_capacity(conns: usize, source_ips: usize) -> Result<()> {
    let soft = raise_nofile().map_err(|e| Error::io("raising RLIMIT_NOFILE", e))?;
    let (_, hard) = nofile().map_err(|e| Error::io("reading RLIMIT_NOFILE", e))?;
    let need = conns as u64 + FD_RESERVE;
    if need > soft {
        return Err(Error::Capacity {
            requested: conns,
            reason: format!(
                "each connection is one file descriptor and this process may open at most \
                 {soft} (RLIMIT_NOFILE soft limit, raised to the hard limit {hard}; \
                 {FD_RESERVE} are kept for the generator itself), so at most {} connections \
                 fit; raise the hard limit (ulimit -Hn, as root) or run several generators",
                soft.saturating_sub(FD_RESERVE)
            ),
        });
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| parse_port_range(&s));
    if let Some((lo, hi)) = range {
        let ports = (hi as u64).saturating_sub(lo as u64) + 1;
        let avail = ports * source_ips.max(1) as u64;
        if conns as u64 > avail {
            return Err(Error::Capacity {
                requested: conns,
                reason: format!(
                    "the ephemeral port range {lo}-{hi} gives {ports} ports per source address \
                     and {} source address(es) give {avail}; add addresses with --source-ips \
                     127.0.0.2,127.0.0.3,...",
                    source_ips.max(1)
                ),
            });
        }
    }
    Ok(())
}

/// Parses `/proc/sys/net/ipv4/ip_local_port_range`.
pub fn parse_port_range(text: &str) -> Option<(u16, u16)> {
    let mut it = text.split_whitespace().map(|s| s.parse::<u16>().ok());
    Some((it.next()??, it.next()??))
}

/// Pins the calling thread (and the threads it spawns later) to `cpus`
/// (`sched_setaffinity`); an empty list leaves it as it is. The one pinning
/// function: the workers pin themselves with it, and `compare` calls it
/// between fork and exec for the servers, so it is async-signal-safe (no
/// allocation, no lock). A CPU beyond `CPU_SETSIZE` is `EINVAL`.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data, CPU_SET is given indices checked
    // against CPU_SETSIZE, and pid 0 means the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The CPUs the calling thread may run on.
pub fn current_affinity() -> io::Result<Vec<usize>> {
    // SAFETY: as in `pin_current_thread`; CPU_ISSET reads indices below
    // CPU_SETSIZE only.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_soft_to_hard() {
        let soft = raise_nofile().unwrap();
        let (s, h) = nofile().unwrap();
        assert_eq!(soft, s);
        assert_eq!(s, h);
    }

    #[test]
    fn capacity_errors_explain_the_fd_limit() {
        ensure_capacity(10, 1).unwrap();
        let (_, hard) = nofile().unwrap();
        let err = ensure_capacity(hard as usize, 1).unwrap_err().to_string();
        assert!(err.contains("file descriptor"), "{err}");
        assert!(err.contains(&hard.to_string()), "{err}");
    }

    #[test]
    fn pinning_in_a_thread() {
        std::thread::spawn(|| {
            let cpus = current_affinity().unwrap();
            assert!(!cpus.is_empty());
            pin_current_thread(&cpus[..1]).unwrap();
            assert_eq!(current_affinity().unwrap(), vec![cpus[0]]);
            assert!(pin_current_thread(&[1 << 20]).is_err());
        })
        .join()
        .unwrap();
    }
}
