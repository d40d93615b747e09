//! Listings read a page at a time: where a page starts, and merging pages read from
//! several sources.

use super::StoredConversation;
use crate::domain::{ConversationId, MessageId};

/// Where a page of conversations starts: after the one with this activity time and id,
/// in the order newest activity first (ties broken by id, descending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityCursor {
    /// Milliseconds since the Unix epoch.
    pub last_activity_at: i64,
    pub conversation: ConversationId,
}

impl ActivityCursor {
    /// The position just past `conversation` in a list.
    pub fn after(conversation: &StoredConversation) -> Self {
        ActivityCursor {
            last_activity_at: conversation.last_activity_at,
            conversation: conversation.id.clone(),
        }
    }
}

/// Which page of a conversation's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageWindow {
    /// The newest messages.
    Latest,
    /// The messages right after this one.
    After(MessageId),
    /// The messages right before this one.
    Before(MessageId),
}

/// One page of a listing, in the listing's order, and whether more follow it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Cuts what a store read with a limit of `limit + 1` down to `limit`: the extra item,
    /// if it came, says that more follow. So does `cut_short`, when the store stopped
    /// before the limit with more to read (DynamoDB stops a query at 1 MB: 50 messages
    /// of 10,000 two-byte characters are more).
    pub fn from_one_more(mut items: Vec<T>, limit: usize, cut_short: bool) -> Self {
        let has_more = items.len() > limit || cut_short;
        items.truncate(limit);
        Page { items, has_more }
    }
}

/// Merges pages read from several sources of one listing (DynamoDB's inbox shards, or a
/// conversation's messages and its notes) into one page of `limit`. Each source gives
/// its items in listing order, read with a limit of `limit + 1`, and whether more follow
/// them; `order` sorts items in listing order.
///
/// A source that has more beyond its last item may hide items that sort after that
/// item, so nothing past the first such boundary is returned: the next page, which
/// starts after the last item returned, reads them.
pub fn merge_pages<T, K: Ord>(
    sources: Vec<(Vec<T>, bool)>,
    order: impl Fn(&T) -> K,
    limit: usize,
) -> Page<T> {
    let mut boundary: Option<K> = None;
    let mut all = Vec::new();
    let mut blind = false;
    let mut unread = false;
    for (items, more) in sources {
        unread |= more;
        if more {
            match items.last().map(&order) {
                Some(last) if boundary.as_ref().is_none_or(|b| last < *b) => boundary = Some(last),
                Some(_) => {}
                // More follow but none came: nothing can be returned safely.
                None => blind = true,
            }
        }
        all.extend(items);
    }
    all.sort_by_key(|item| order(item));
    let total = all.len();
    if blind {
        all.clear();
    } else if let Some(boundary) = boundary {
        all.retain(|item| order(item) <= boundary);
    }
    // More follow if anything read was held back, or if a source has more it did not
    // read: that is so even when all it read fits in the page.
    let cut = all.len() < total || unread;
    Page::from_one_more(all, limit, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every merged page, read with the rule above from sorted sources, continues the
    /// listing exactly: each item once, in order.
    #[test]
    fn merged_pages_list_every_item_once_in_order() {
        let sources: Vec<Vec<u32>> = vec![
            (0..40).filter(|n| n % 3 == 0).collect(),
            (0..40).filter(|n| n % 3 == 1).collect(),
            (0..40).filter(|n| n % 3 == 2 && *n < 20).collect(),
            vec![],
        ];
        for limit in [1, 2, 5, 7, 40, 50] {
            let mut seen = Vec::new();
            let mut from: Option<u32> = None;
            loop {
                let read = sources
                    .iter()
                    .map(|source| {
                        let rest: Vec<u32> = source
                            .iter()
                            .copied()
                            .filter(|n| from.is_none_or(|f| *n > f))
                            .collect();
                        // A source may stop early (DynamoDB's 1 MB), here after 3 items.
                        let take = (limit + 1).min(3);
                        let more = rest.len() > take;
                        (rest.into_iter().take(take).collect::<Vec<_>>(), more)
                    })
                    .collect();
                let page = merge_pages(read, |n| *n, limit);
                assert!(page.items.len() <= limit);
                seen.extend(page.items.iter().copied());
                if !page.has_more {
                    break;
                }
                from = page.items.last().copied().or(from);
            }
            let expected: Vec<u32> = (0..40).filter(|n| n % 3 != 2 || *n < 20).collect();
            assert_eq!(seen, expected, "limit {limit}");
        }
    }

    /// A source that stopped with more to read keeps the listing going, even when all
    /// it read fits in the page and is the page's end (an inbox shard near the end of
    /// the listing: it was found dropping the last conversations).
    #[test]
    fn a_source_with_more_unread_means_more_follow() {
        let page = merge_pages(vec![(vec![1, 2, 3], true), (vec![2], false)], |n| *n, 6);
        assert_eq!(page.items, vec![1, 2, 2, 3]);
        assert!(page.has_more);
        let last = merge_pages(vec![(vec![4], false), (vec![], false)], |n: &u32| *n, 6);
        assert!(!last.has_more);
    }
}
