//! Every file poisonscan writes (profiles, reports, the rows file) appears whole or not at all,
//! and nothing it did not create is ever overwritten on the way: bytes go to a uniquely named
//! temporary file beside the target (created exclusively, by the `tempfile` crate), which is
//! synced and renamed over the target only when complete. A failed write removes its temporary
//! file; a run stopped by a signal removes every temporary file still open through
//! [`stop`], which the command line's signal handler calls.
//!
//! An output named by a URL (`s3://…`, `gs://…`, `az://…`) is written the same way to a
//! temporary file in the system's temporary folder, then uploaded when complete
//! ([`crate::storage::upload`]: one PUT, or a multipart upload completed after its last part),
//! so no half-written report or profile ever appears on the store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// The temporary files being written, for [`stop`].
static STAGED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn staged() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    STAGED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remove every temporary file still being written, then run `end` (which ends the process)
/// with no new one started in between: for a run stopped by a signal.
pub fn stop(end: impl FnOnce()) {
    let mut s = staged();
    for p in s.drain(..) {
        let _ = std::fs::remove_file(p);
    }
    end();
}

/// Remove every temporary file still being written, unless another thread holds the list (it
/// may be the one whose allocation failed): for a run that ends on an allocation failure, which
/// must not wait for a lock. The list stays locked while the returned guard lives, so none is
/// started before the process ends. A path too long for the standard library's stack buffer
/// needs an allocation to be removed, which may fail then.
pub(crate) fn remove_staged_now() -> Option<std::sync::MutexGuard<'static, Vec<PathBuf>>> {
    let s = match STAGED.try_lock() {
        Ok(s) => s,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return None,
    };
    for p in s.iter() {
        let _ = std::fs::remove_file(p);
    }
    Some(s)
}

/// A file being written to a temporary beside `path`; [`Staged::commit`] puts it in place.
/// Dropped without a commit, the temporary file is removed.
pub struct Staged {
    path: PathBuf,
    tmp: Option<tempfile::NamedTempFile>,
}

impl Staged {
    /// Start writing `path` (its folder must exist).
    pub fn new(path: &Path) -> Result<Staged> {
        let remote = is_url(path);
        let temp_dir = std::env::temp_dir();
        let dir = if remote {
            temp_dir.as_path()
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        // Registered under the lock it is created under: [`stop`] never misses one.
        let mut registry = staged();
        let prefix = if remote {
            format!(".poisonscan-upload.{name}.")
        } else {
            format!(".{name}.")
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // As `File::create` would make the target (the umask applies), not tempfile's 0600:
        // a report or profile is for other jobs to read.
        // Bound for a store, it sits in the shared temporary folder: readable by its owner only.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(if remote {
            0o600
        } else {
            0o666
        }));
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| Error::write(path, e))?;
        registry.push(tmp.path().to_path_buf());
        drop(registry);
        Ok(Staged {
            path: path.to_path_buf(),
            tmp: Some(tmp),
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary file to write to.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp
            .as_mut()
            .expect("a staged file is open until committed")
            .as_file_mut()
    }

    /// A second handle on the temporary file (for writers that take the file by value).
    pub fn handle(&self) -> Result<std::fs::File> {
        self.tmp
            .as_ref()
            .expect("a staged file is open until committed")
            .reopen()
            .map_err(|e| Error::write(&self.path, e))
    }

    /// Sync the temporary file and rename it over the target.
    pub fn commit(self) -> Result<()> {
        self.commit_in(&mut staged())
    }

    /// [`Staged::commit`] with the registry's lock held by the caller.
    fn commit_in(mut self, registry: &mut Vec<PathBuf>) -> Result<()> {
        let tmp = self.tmp.take().expect("a staged file is committed once");
        let tmp_path = tmp.path().to_path_buf();
        if is_url(&self.path) {
            let done = tmp
                .as_file()
                .sync_all()
                .map_err(|e| Error::write(&self.path, e))
                .and_then(|()| crate::storage::upload(&self.path.to_string_lossy(), &tmp_path));
            drop(tmp);
            registry.retain(|s| *s != tmp_path);
            return done;
        }
        // On an error the temporary file is dropped, which removes it.
        let done = tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::write(&self.path, e))
            .and_then(|()| {
                tmp.persist(&self.path)
                    .map(|_| ())
                    .map_err(|e| Error::write(&self.path, e.error))
            });
        registry.retain(|s| *s != tmp_path);
        done
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            let path = t.path().to_path_buf();
            // The file first (NamedTempFile removes it when dropped), then its registration,
            // so that a signal in between still finds it.
            drop(t);
            staged().retain(|s| *s != path);
        }
    }
}

/// Write `bytes` to `path` whole or not at all.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut s = Staged::new(path)?;
    s.file()
        .write_all(bytes)
        .map_err(|e| Error::write(path, e))?;
    s.commit()
}

/// Write several files, all or none: each is written in full to its temporary file before
/// any is renamed into place, so a failure while writing (a full disk, a file size limit)
/// leaves every target as it was; the renames run under the registry's lock, so a signal
/// stops the run before the first or after the last. (A rename that fails after another
/// succeeded, which a folder that took the temporary files does not do, leaves the first.)
pub fn write_all(files: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    let mut pending = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let mut s = Staged::new(path)?;
        s.file()
            .write_all(bytes)
            .and_then(|()| s.file().sync_all())
            .map_err(|e| Error::write(path, e))?;
        pending.push(s);
    }
    // Uploads first (each whole, and none while the registry is locked: a signal still stops
    // the run at once); a failed upload leaves the local files as they were.
    let (remote, pending): (Vec<Staged>, Vec<Staged>) =
        pending.into_iter().partition(|s| is_url(&s.path));
    for s in remote {
        s.commit()?;
    }
    let mut registry = staged();
    let mut result = Ok(());
    let mut rest = pending.into_iter();
    for s in rest.by_ref() {
        if let Err(e) = s.commit_in(&mut registry) {
            result = Err(e);
            break;
        }
    }
    drop(registry);
    // The files not renamed are removed as they drop (which takes the lock).
    drop(rest);
    result
}

/// Whether an output is a URL of object storage.
fn is_url(path: &Path) -> bool {
    crate::storage::is_url(&path.to_string_lossy())
}

/// A local path with links and `..` resolved; for a file not there yet, its folder resolved
/// and its name (`None` when the folder is not there either).
pub fn resolve_path(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new(".")).canonicalize().ok()?;
    Some(dir.join(p.file_name()?))
}

/// Refuse to write an output over one of the run's inputs or over another output, before
/// anything is read: `outputs` and `inputs` are compared as the files they name (after
/// resolving links and `..`), so a report, profile or rows file can never replace the data or
/// baseline it was computed from, nor another output of the same run.
pub fn check_not_inputs(outputs: &[&Path], inputs: &[PathBuf]) -> Result<()> {
    let resolve = resolve_path;
    // Two outputs at one path: the one written last would replace the other, silently.
    let mut seen: Vec<(PathBuf, &Path)> = Vec::with_capacity(outputs.len());
    for out in outputs {
        // A path whose folder does not exist yet (`--out` makes it) is compared as written,
        // made absolute.
        let Some(key) = (if is_url(out) {
            Some(out.to_path_buf())
        } else {
            resolve(out).or_else(|| std::path::absolute(out).ok())
        }) else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            return Err(Error::Usage(format!(
                "two outputs are the same file, `{}` and `{}`: one would replace the other\nhint: give each output (--out's files, --rows-out, --attest, -o) its own path",
                first.display(),
                out.display()
            )));
        }
        seen.push((key, out));
    }
    let inputs_as_written = inputs;
    let inputs: Vec<(PathBuf, &PathBuf)> = inputs
        .iter()
        .filter_map(|p| resolve(p).map(|r| (r, p)))
        .collect();
    for out in outputs {
        // A URL is refused where an input's listing would take it: the input itself, or a
        // data file (Parquet, CSV) under an input prefix or matched by an input glob, which
        // would overwrite an input object or be read as data by the next scan.
        if is_url(out) {
            let o = out.to_string_lossy();
            let is_data = crate::ingest::format_of(out).is_some();
            let under = |input: &PathBuf| -> bool {
                let i = input.to_string_lossy();
                if i == o {
                    return true;
                }
                if !is_data {
                    return false;
                }
                if i.contains(['*', '?', '[']) {
                    return glob::Pattern::new(&i).is_ok_and(|p| p.matches(&o))
                        || o.starts_with(i.split(['*', '?', '[']).next().unwrap_or(&i))
                            && i.contains("**");
                }
                o.starts_with(&format!("{}/", i.trim_end_matches('/')))
            };
            if let Some(input) = inputs_as_written.iter().find(|i| under(i)) {
                return Err(Error::Usage(format!(
                    "the output `{}` is the input `{}` or would be listed as part of it: writing it would destroy what is read\nhint: write the output elsewhere",
                    out.display(),
                    input.display()
                )));
            }
            continue;
        }
        let Some(o) = resolve(out) else { continue };
        if let Some((_, input)) = inputs.iter().find(|(r, _)| *r == o) {
            return Err(Error::Usage(format!(
                "the output `{}` is the input `{}`: writing it would destroy what is read\nhint: write the output elsewhere",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_staged_file_appears_only_when_committed_and_leaves_nothing_when_dropped() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("report.json");
        // A user's file named like a temporary is never touched.
        std::fs::write(d.path().join("report.tmp"), b"mine").unwrap();
        std::fs::write(d.path().join("report.json.tmp"), b"mine too").unwrap();
        {
            let mut s = Staged::new(&target).unwrap();
            s.file().write_all(b"half").unwrap();
            assert!(!target.exists());
            assert_eq!(names(d.path()).len(), 3);
        }
        assert_eq!(names(d.path()), ["report.json.tmp", "report.tmp"]);
        write(&target, b"{}").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        assert_eq!(
            names(d.path()),
            ["report.json", "report.json.tmp", "report.tmp"]
        );
        assert_eq!(std::fs::read(d.path().join("report.tmp")).unwrap(), b"mine");
        // The mode a plain `File::create` gives (the umask's), not a temporary file's 0600.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            std::fs::File::create(d.path().join("plain")).unwrap();
            assert_eq!(mode(&target), mode(&d.path().join("plain")));
        }
    }

    #[test]
    fn write_all_writes_every_file_or_none() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.json");
        std::fs::write(&a, b"old").unwrap();
        // The second target's folder does not exist: the first is left as it was.
        let bad = vec![
            (a.clone(), b"new".to_vec()),
            (d.path().join("missing/b.json"), b"new".to_vec()),
        ];
        assert!(write_all(&bad).is_err());
        assert_eq!(std::fs::read(&a).unwrap(), b"old");
        assert_eq!(names(d.path()), ["a.json"]);
        let b = d.path().join("b.json");
        write_all(&[(a.clone(), b"new".to_vec()), (b.clone(), b"b".to_vec())]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new");
        assert_eq!(names(d.path()), ["a.json", "b.json"]);
    }

    #[test]
    fn an_output_that_is_an_input_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data.parquet");
        std::fs::write(&data, b"x").unwrap();
        let other = d.path().join("sub/../data.parquet");
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let e = check_not_inputs(&[&other], std::slice::from_ref(&data)).unwrap_err();
        assert!(e.to_string().contains("is the input"), "{e}");
        assert!(check_not_inputs(&[&d.path().join("rows.parquet")], &[data]).is_ok());
    }
}
