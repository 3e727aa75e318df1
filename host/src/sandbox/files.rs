//! Opening the files the sandbox reads: component files and compile-cache entries. Each is
//! opened without blocking (a FIFO named `x.wasm` would otherwise stall the opener forever),
//! its type and owner are taken from the opened file itself (`fstat`, so nothing can swap the
//! path between the check and the read), and it is read with a bound even if it grows while
//! being read.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The path names something other than a regular file.
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file is larger than the bound (`size` is at least `limit + 1`).
    #[error("it is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Its size, or the bytes read before giving up.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The file may have been written by someone other than the service.
    #[error("{0}")]
    NotPrivate(String),
}

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Followed (a strategies folder may link to built components elsewhere).
    Follow,
    /// Refused (compile-cache entries: a link could point the loader at planted code).
    Refuse,
}

/// Opens `path` for reading without blocking and returns it with its own metadata, refusing
/// anything but a regular file.
pub(crate) fn open_regular(path: &Path, links: Links) -> Result<(File, Metadata), FileError> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    if links == Links::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        // O_NOFOLLOW on a symbolic link fails with ELOOP: name it for what it is.
        Err(rustix::io::Errno::LOOP) if links == Links::Refuse => {
            return Err(FileError::NotRegular("a symbolic link"));
        }
        Err(errno) => return Err(FileError::Io(errno.into())),
    };
    let metadata = file.metadata()?;
    let kind = metadata.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    };
    match what {
        Some(what) => Err(FileError::NotRegular(what)),
        None => Ok((file, metadata)),
    }
}

/// Reads all of `file`, refusing more than `limit` bytes: a file that grows while it is read
/// is cut off at `limit + 1` bytes and refused, never read whole.
pub(crate) fn read_bounded(file: File, metadata: &Metadata, limit: u64) -> Result<Vec<u8>, FileError> {
    if metadata.len() > limit {
        return Err(FileError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(FileError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

/// The effective user id of this process: who must own the compile cache.
pub(crate) fn service_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Refuses `metadata` (of a cache folder or entry) unless it belongs to the service's user
/// and neither its group nor others may write it.
pub(crate) fn check_private(metadata: &Metadata) -> Result<(), FileError> {
    let uid = service_uid();
    if metadata.uid() != uid {
        return Err(FileError::NotPrivate(format!(
            "owned by uid {}, not by the service's user (uid {uid})",
            metadata.uid()
        )));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(FileError::NotPrivate(format!(
            "writable by its group or by others (mode {mode:04o})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn a_regular_file_within_the_bound_is_read_whole() {
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|error| panic!("{error}"));
        file.write_all(b"0123456789")
            .unwrap_or_else(|error| panic!("{error}"));
        let (opened, metadata) =
            open_regular(file.path(), Links::Refuse).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            read_bounded(opened, &metadata, 10).ok(),
            Some(b"0123456789".to_vec())
        );
    }

    #[test]
    fn a_file_above_the_bound_is_refused() {
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|error| panic!("{error}"));
        file.write_all(b"0123456789")
            .unwrap_or_else(|error| panic!("{error}"));
        let (opened, metadata) =
            open_regular(file.path(), Links::Follow).unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(
            read_bounded(opened, &metadata, 9),
            Err(FileError::TooLarge { size: 10, limit: 9 })
        ));
    }

    #[test]
    fn a_file_that_grows_after_its_size_was_taken_is_cut_at_the_bound() {
        let mut file = tempfile::NamedTempFile::new().unwrap_or_else(|error| panic!("{error}"));
        file.write_all(b"01234").unwrap_or_else(|error| panic!("{error}"));
        let (opened, metadata) =
            open_regular(file.path(), Links::Follow).unwrap_or_else(|error| panic!("{error}"));
        // It grows between the fstat and the read.
        file.write_all(&[7; 100])
            .unwrap_or_else(|error| panic!("{error}"));
        file.flush().unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(
            read_bounded(opened, &metadata, 10),
            Err(FileError::TooLarge { size: 11, limit: 10 })
        ));
    }

    #[test]
    fn a_directory_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        assert!(matches!(
            open_regular(dir.path(), Links::Follow),
            Err(FileError::NotRegular("a directory"))
        ));
    }

    #[test]
    fn a_symbolic_link_is_followed_only_when_asked() {
        let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let target = dir.path().join("target");
        std::fs::write(&target, b"x").unwrap_or_else(|error| panic!("{error}"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|error| panic!("{error}"));
        assert!(open_regular(&link, Links::Follow).is_ok());
        assert!(matches!(
            open_regular(&link, Links::Refuse),
            Err(FileError::NotRegular("a symbolic link"))
        ));
    }
}
