//! Ordered parallel work: tasks run on the pool's threads and their results are folded strictly
//! in task order (the profile pass and the row pass both rely on it for determinism).

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// Run `tasks` on the current pool's thread count and fold their results strictly in task
/// order, so the result does not depend on the thread count or on timing. Workers take tasks in
/// order; a finished result waits in a reorder buffer until every earlier one is folded, and
/// whichever worker finds the next result ready folds it while the others keep working. A
/// worker does not start a new task while `2 × threads` results wait, which bounds memory.
/// On failure the error of the earliest failing task is returned.
pub(crate) fn run_ordered<T: Sync, R: Send>(
    tasks: &[T],
    work: impl Fn(&T) -> Result<R> + Sync,
    fold: impl FnMut(R) + Send,
) -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};
    struct Queue<R> {
        ready: BTreeMap<usize, Result<R>>,
        next_fold: usize,
        error: Option<Error>,
    }
    fn lock<Q>(m: &Mutex<Q>) -> std::sync::MutexGuard<'_, Q> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
    let threads = rayon::current_num_threads().max(1);
    let window = 2 * threads;
    let next_task = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let queue = Mutex::new(Queue {
        ready: BTreeMap::new(),
        next_fold: 0,
        error: None,
    });
    let space = Condvar::new();
    let folder = Mutex::new(fold);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    {
                        let mut q = lock(&queue);
                        while q.ready.len() >= window && !failed.load(Ordering::Relaxed) {
                            q = space.wait(q).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next_task.fetch_add(1, Ordering::Relaxed);
                    if i >= tasks.len() {
                        break;
                    }
                    let r = work(&tasks[i]);
                    lock(&queue).ready.insert(i, r);
                    // Fold whatever is ready in order; if another worker is folding, it will
                    // see our result when it looks again.
                    while let Ok(mut f) = folder.try_lock() {
                        loop {
                            let item = {
                                let mut q = lock(&queue);
                                let n = q.next_fold;
                                let item = q.ready.remove(&n);
                                if item.is_some() {
                                    q.next_fold += 1;
                                    space.notify_all();
                                }
                                item
                            };
                            match item {
                                Some(Ok(r)) => (*f)(r),
                                Some(Err(e)) => {
                                    let mut q = lock(&queue);
                                    q.error.get_or_insert(e);
                                    failed.store(true, Ordering::Relaxed);
                                    space.notify_all();
                                    break;
                                }
                                None => break,
                            }
                        }
                        drop(f);
                        // A result may have arrived after we looked and before we let go.
                        let q = lock(&queue);
                        if failed.load(Ordering::Relaxed) || !q.ready.contains_key(&q.next_fold) {
                            break;
                        }
                    }
                }
            });
        }
    });
    let q = queue.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = q.error {
        return Err(e);
    }
    if q.next_fold != tasks.len() {
        return Err(Error::Internal(format!(
            "{} of {} profiling tasks were folded",
            q.next_fold,
            tasks.len()
        )));
    }
    Ok(())
}
