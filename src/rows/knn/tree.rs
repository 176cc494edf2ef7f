//! The k-d tree over the projected reference points and its search: best bin first, with
//! pruning, at most `MAX_LEAVES` leaves a query; the query's scratch space keeps the best `K`
//! as packed (distance, index) keys.

use super::{EARLY_LEAVES, EARLY_SCORE, K, KnnModel, LEAF, MAX_LEAVES};

/// A node of the k-d tree (16 bytes). Nodes are in preorder: an inner node's left child is the
/// next node.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(super) enum Node {
    Inner {
        dim: u32,
        split: f32,
        right: u32,
    },
    /// The range of points of a leaf.
    Leaf {
        start: u32,
        end: u32,
    },
}

/// A point in the projected space, padded to 8 lanes (unused components are 0).
pub(super) type Point = [f32; 8];

/// A distance (squared, never negative or NaN) and an index packed into one `u64` that orders
/// like the pair `(distance, index)`: the bits of a non-negative `f32` order like the number.
#[inline]
pub(super) fn key(dist: f32, index: u32) -> u64 {
    (u64::from(dist.to_bits()) << 32) | u64::from(index)
}

#[inline]
pub(super) fn key_dist(k: u64) -> f32 {
    f32::from_bits((k >> 32) as u32)
}

#[inline]
pub(super) fn key_index(k: u64) -> u32 {
    k as u32
}

/// Scratch space of one query: the projected row, the best `K` so far (packed keys, see
/// `key`) and the branches not taken.
#[derive(Default)]
pub struct Query {
    pub(super) y: Point,
    pub(super) best: [u64; K],
    pub(super) found: usize,
    worst: usize,
    /// Branches not taken (keys of their lower bound on the distance and their node), nearest
    /// first; only the `MAX_LEAVES` nearest are kept, as no others can be reached.
    pending: [u64; MAX_LEAVES],
    pending_len: usize,
}

impl Query {
    /// Remember a branch not taken (ordered by distance bound, then node).
    #[inline]
    fn defer(&mut self, gap: f32, node: u32) {
        let new = key(gap, node);
        let mut at = self.pending_len;
        if at == MAX_LEAVES {
            if new >= self.pending[MAX_LEAVES - 1] {
                return;
            }
            at -= 1;
        } else {
            self.pending_len += 1;
        }
        // Insertion from the back: the list is short.
        while at > 0 && self.pending[at - 1] > new {
            self.pending[at] = self.pending[at - 1];
            at -= 1;
        }
        self.pending[at] = new;
    }

    /// The nearest branch not taken, removed.
    #[inline]
    fn next_pending(&mut self) -> Option<(f32, u32)> {
        if self.pending_len == 0 {
            return None;
        }
        let k = self.pending[0];
        self.pending.copy_within(1..self.pending_len, 0);
        self.pending_len -= 1;
        Some((key_dist(k), key_index(k)))
    }

    /// Whether a point with key `k` would enter the best `K` so far.
    #[inline]
    fn beats_worst(&self, k: u64) -> bool {
        self.found < K || k < self.best[self.worst]
    }

    /// Add a point that `beats_worst`: the best `K` are kept unordered, with the position of
    /// the worst, until `finish` sorts them.
    #[inline]
    fn offer(&mut self, k: u64) {
        if self.found < K {
            self.best[self.found] = k;
            self.found += 1;
        } else {
            self.best[self.worst] = k;
        }
        if self.found == K {
            self.find_worst();
        }
    }

    #[inline]
    fn find_worst(&mut self) {
        let (w, _) = self
            .best
            .iter()
            .enumerate()
            .max_by_key(|&(_, k)| *k)
            .unwrap_or((0, &0));
        self.worst = w;
    }

    /// The `K`-th best distance so far (`None` before `K` points).
    #[inline]
    fn kth(&self) -> Option<f32> {
        (self.found == K).then(|| key_dist(self.best[self.worst]))
    }

    /// Sort the neighbours found: nearest first, ties by index.
    fn finish(&mut self) {
        self.best[..self.found].sort_unstable();
    }

    /// The neighbours found (distance, point), nearest first after `finish`.
    pub(super) fn neighbours(&self) -> impl Iterator<Item = (f32, u32)> + '_ {
        self.best[..self.found]
            .iter()
            .map(|&k| (key_dist(k), key_index(k)))
    }
}

#[inline]
pub(super) fn distance(a: &Point, b: &Point) -> f32 {
    // Lane-wise squares, then a fixed pairwise sum: the compiler keeps it in vector registers
    // (a sequential sum must be evaluated in order, one lane at a time).
    let d: [f32; 8] = std::array::from_fn(|k| (a[k] - b[k]) * (a[k] - b[k]));
    let h: [f32; 4] = std::array::from_fn(|k| d[k] + d[k + 4]);
    (h[0] + h[2]) + (h[1] + h[3])
}

impl KnnModel {
    pub(super) fn build(&mut self, pts: &mut [(Point, u16, (u32, u64))]) {
        self.nodes.clear();
        self.build_node(pts, 0);
        for (y, c, p) in pts.iter() {
            self.points.push(*y);
            self.class.push(*c);
            self.provenance.push(*p);
        }
    }

    /// Build the subtree over `pts` (which start at index `start` of the final order).
    fn build_node(&mut self, pts: &mut [(Point, u16, (u32, u64))], start: usize) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::Leaf {
            start: start as u32,
            end: (start + pts.len()) as u32,
        });
        if pts.len() <= LEAF {
            return id;
        }
        // The widest dimension, split at the median (ties broken by provenance: deterministic).
        let dim = (0..self.dims)
            .max_by(|&a, &b| {
                let spread = |k: usize| {
                    let (lo, hi) = pts.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| {
                        (lo.min(p.0[k]), hi.max(p.0[k]))
                    });
                    hi - lo
                };
                spread(a).total_cmp(&spread(b)).then(b.cmp(&a))
            })
            .unwrap_or(0);
        let mid = pts.len() / 2;
        pts.select_nth_unstable_by(mid, |a, b| {
            a.0[dim].total_cmp(&b.0[dim]).then(a.2.cmp(&b.2))
        });
        let split = pts[mid].0[dim];
        let (lo, hi) = pts.split_at_mut(mid);
        let left = self.build_node(lo, start);
        debug_assert_eq!(left, id + 1);
        let right = self.build_node(hi, start + mid);
        self.nodes[id as usize] = Node::Inner {
            dim: dim as u32,
            split,
            right,
        };
        id
    }

    /// The search for `q.y` (see `neighbours`).
    pub(super) fn search(&self, skip: Option<(u32, u64)>, early: Option<u16>, q: &mut Query) {
        q.found = 0;
        q.pending_len = 0;
        // Best bin first: descend to the nearest leaf, remembering each branch not taken with
        // a lower bound on its distance (the squared distance to its splitting plane); then
        // the nearest remembered branch, until none can beat the K-th best (exact) or the leaf
        // cap is reached. Branches that cannot beat the K-th best are not remembered at all.
        let mut node = 0u32;
        let mut leaves = 0;
        loop {
            let (start, end) = loop {
                match self.nodes[node as usize] {
                    Node::Leaf { start, end } => break (start as usize, end as usize),
                    Node::Inner { dim, split, right } => {
                        let diff = q.y[dim as usize] - split;
                        let (near, far) = if diff < 0.0 {
                            (node + 1, right)
                        } else {
                            (right, node + 1)
                        };
                        let gap = diff * diff;
                        if q.kth().is_none_or(|kth| gap <= kth) {
                            q.defer(gap, far);
                        }
                        node = near;
                    }
                }
            };
            let mut dist = [0f32; LEAF];
            for (o, p) in dist.iter_mut().zip(&self.points[start..end]) {
                *o = distance(p, &q.y);
            }
            for (j, &dist) in dist[..end - start].iter().enumerate() {
                let p = start + j;
                let k = key(dist, p as u32);
                if q.beats_worst(k) && skip.is_none_or(|s| self.provenance[p] != s) {
                    q.offer(k);
                }
            }
            leaves += 1;
            if leaves == EARLY_LEAVES
                && q.found == K
                && let Some(class) = early
            {
                // On the points in order, as the final score is.
                let mut found = q.best;
                found.sort_unstable();
                if self.disagreement(&found, class) < EARLY_SCORE {
                    break;
                }
            }
            let Some((gap, next)) = q.next_pending() else {
                break;
            };
            if q.kth().is_some_and(|kth| gap > kth) || leaves >= MAX_LEAVES {
                break;
            }
            node = next;
        }
        q.finish();
    }
}
