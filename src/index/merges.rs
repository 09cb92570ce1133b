//! Which segments the index writer merges. Tantivy's default policy keeps
//! merging into ever larger segments, and a merge reads each source
//! segment's whole document store at once (the store is read with
//! positioned reads, see `directory`): at 43M records that alone took
//! peak memory to 875 MiB. Merges here stop at a bounded segment size, so
//! memory stays flat however large the input; lookups search a few more
//! segments, which costs microseconds each.

use tantivy::index::SegmentMeta;
use tantivy::merge_policy::{MergeCandidate, MergePolicy};

#[derive(Debug)]
pub(super) struct BoundedMerges {
    /// No merge makes a segment with more live records than this.
    pub max_docs: u32,
    /// Merging fewer segments than this rewrites too much for too little.
    pub min_segments: usize,
}

impl MergePolicy for BoundedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        // Smallest first, so the many small segments of incremental
        // ingests are the first to be folded together.
        let mut small: Vec<&SegmentMeta> = segments
            .iter()
            .filter(|s| s.num_docs() <= self.max_docs / 2)
            .collect();
        small.sort_by_key(|s| s.num_docs());
        let mut out = Vec::new();
        let mut group = Vec::new();
        let mut docs = 0u32;
        for s in small {
            if docs + s.num_docs() > self.max_docs {
                if group.len() >= self.min_segments {
                    out.push(MergeCandidate(std::mem::take(&mut group)));
                }
                group.clear();
                docs = 0;
            }
            group.push(s.id());
            docs += s.num_docs();
        }
        if group.len() >= self.min_segments {
            out.push(MergeCandidate(group));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::index::SegmentId;

    fn metas(sizes: &[u32]) -> Vec<SegmentMeta> {
        let index = tantivy::Index::create_in_ram(tantivy::schema::Schema::builder().build());
        sizes
            .iter()
            .map(|&n| index.new_segment_meta(SegmentId::generate_random(), n))
            .collect()
    }

    #[test]
    fn merges_small_segments_and_never_past_the_bound() {
        let policy = BoundedMerges {
            max_docs: 1000,
            min_segments: 3,
        };
        let segments = metas(&[100, 900, 200, 300, 400, 50, 450, 600]);
        let size_of = |id: &SegmentId| {
            segments
                .iter()
                .find(|s| s.id() == *id)
                .map(|s| s.num_docs())
                .unwrap()
        };
        let candidates = policy.compute_merge_candidates(&segments);
        assert!(!candidates.is_empty());
        for MergeCandidate(ids) in &candidates {
            assert!(ids.len() >= 3, "{ids:?}");
            let total: u32 = ids.iter().map(size_of).sum();
            assert!(total <= 1000, "{total}");
            // Segments past half the bound are left as they are.
            assert!(ids.iter().all(|id| size_of(id) <= 500));
        }
        assert!(
            policy
                .compute_merge_candidates(&metas(&[900, 800, 100]))
                .is_empty()
        );
    }
}
