// SPDX-License-Identifier: GPL-2.0-only
/*
 * drivers/iommu/iova.c (v6.16; the same file up to v6.18): the IOVA allocator.
 * The rb-tree search with its cached nodes and the single retry pass, reserve_iova(),
 * and the per-CPU range caches (magazines) with their depot and its trim work.
 *
 * The rb-tree is an ordered array of node pointers, iovad->nodes, sorted by pfn_lo.
 * The cached nodes are node identities, as in the kernel. In-order predecessor and
 * successor are the neighbours in the array. For the trees the allocator builds, the
 * results depend only on the tree's contents (spec dma-iommu.md §1.9). So the retry pass
 * starts from the top of the array, where iova_find_limit() would find "a node at or
 * above the limit".
 *
 * Model deviations. Each one is where the kernel's result would depend on the rb-tree's
 * shape, or where the kernel oopses, hangs or corrupts memory. In those places the model
 * stops the call with a BUG report that says why, as the swiotlb model does:
 *  - alloc_iova() of size 0. A zero-sized node has pfn_hi = pfn_lo - 1, and it can share
 *    pfn_lo with a neighbour. Whether iova_insert_rbtree() then sees the duplicate depends
 *    on the shape.
 *  - an allocation whose pfn_lo equals that of the empty node just below it
 *    (reserve_iova(lo, lo - 1) makes such nodes). iova_insert_rbtree() starts its descent
 *    at the node above the hole, so it finds the duplicate only if that node has a left
 *    child.
 *  - reserve_iova() inserting a node with pfn_hi < pfn_lo - 1. BST lookups around such a
 *    node depend on the shape. The empty nodes [lo, lo - 1] that a zero-length reserved
 *    region gives are modelled: they never contain a pfn and keep pfn_hi monotonic.
 *  - dereferencing a NULL cached node, once free_iova(~0UL) has erased the anchor. The
 *    kernel oopses.
 *  - a retry pass that would run forever. This happens when the cached node ends at
 *    start_pfn - 1: low_pfn comes back to start_pfn.
 *  - freeing the embedded anchor after reserve_iova() lowered its pfn_lo. free_iova_mem()
 *    would kmem_cache_free() it.
 *  - a CPU number that is not below nr_cpus, and the rcaches used before
 *    iova_domain_init_rcaches(). per_cpu_ptr() or a NULL dereference in the kernel.
 * Other differences from the kernel:
 *  - iova_insert_rbtree() refuses a duplicate pfn_lo with WARN_ON(1). Then reserve_iova()
 *    returns a node that is in no tree, and the kernel leaks it. The model returns a
 *    per-thread copy instead: nothing can tell the two apart, since the node is in no
 *    tree and is never cached.
 *  - alloc_iova() allocates its node where the kernel inserts it, not before the search.
 *    kmem_cache allocation failures are not modelled, so a BUG in the walk leaks nothing.
 *  - free_global_cached_iovas() and the depot work free a depot magazine's pfns before
 *    they unlink the magazine. Nothing observes the depot in between. The ordering only
 *    matters if a BUG (see above) leaves the call half done.
 *  - shifts by 64 (fls_long() == 64 for size 0 or sizes above 2^63) are done modulo 64.
 *    The compiled kernel does the same (arm64 LSLV, x86 SHL) (analysis). So
 *    roundup_pow_of_two(0) is 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dma-mapping.h"
#include "iova.h"

#ifndef ULLONG_MAX
#define ULLONG_MAX	(~0ULL)
#endif

#define IOVA_NOT_IN_TREE	((size_t)-1)
#define IOVA_NODES_MIN		16

/* The kernel would oops, hang or corrupt memory here: stop the call like BUG() does. */
#define iova_bug(iovad, what)	dmadiff_bug((iovad)->dev, __func__, what)

/* to_iova(node), dereferenced where the kernel would oops on a NULL cached node */
#define IOVA_DEREF(iovad, node, name) ({					\
	struct iova *__node = (node);						\
	if (unlikely(!__node))							\
		dmadiff_bug((iovad)->dev, __func__, "NULL pointer dereference: "	\
			    name " is NULL (the anchor was freed)");		\
	__node;								\
})

/* iovad->rcaches, where the kernel would oops before iova_domain_init_rcaches() */
#define IOVA_RCACHES(iovad) ({							\
	if (unlikely(!(iovad)->rcaches))					\
		dmadiff_bug((iovad)->dev, __func__, "NULL pointer dereference: "	\
			    "iovad->rcaches is NULL (no iova_domain_init_rcaches())"); \
	(iovad)->rcaches;							\
})

/* per_cpu_ptr(rcache->cpu_rcaches, cpu); a CPU that is not possible has no per-CPU area */
#define IOVA_CPU_RCACHE(iovad, rcache, cpu) ({				\
	unsigned int __cpu = (cpu);						\
	if (unlikely(__cpu >= (iovad)->nr_cpus))				\
		dmadiff_bug((iovad)->dev, __func__, "per_cpu_ptr() of a CPU "	\
			    "that is not possible (cpu >= nr_cpu_ids)");	\
	&(rcache)->cpu_rcaches[__cpu];						\
})

/* A model invariant broke: this is a bug in the model, not in the kernel. */
static _Noreturn void iova_model_bug(const char *func, const char *what)
{
	fprintf(stderr, "dmadiff: iova model: %s: %s\n", func, what);
	abort();
}

/* models fls_long() */
static inline unsigned int fls_long(unsigned long l)
{
	return l ? 64 - (unsigned int)__builtin_clzl(l) : 0;
}

/* x << n as the compiled kernel does it: the shift amount is taken modulo 64 */
static inline unsigned long shl_hw(unsigned long x, unsigned int n)
{
	return x << (n & 63);
}

/* models is_power_of_2() */
static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && ((n & (n - 1)) == 0);
}

/* roundup_pow_of_two() of a non-constant argument */
/* models __roundup_pow_of_two() */
static inline unsigned long roundup_pow_of_two(unsigned long n)
{
	return shl_hw(1UL, fls_long(n - 1));
}

/* order_base_2() of a non-constant argument */
/* models __order_base_2() */
static inline int order_base_2(unsigned long n)
{
	return n > 1 ? (int)fls_long(n - 1) : 0;	/* ilog2(n - 1) + 1 */
}

/* ---- the tree: an ordered array (model-only) ---- */

/* The first index whose node has pfn_lo >= pfn. */
static size_t iova_tree_lower_bound(const struct iova_domain *iovad,
				    unsigned long pfn)
{
	size_t lo = 0, hi = iovad->nr_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (iovad->nodes[mid]->pfn_lo < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Where iova sits in the tree, or IOVA_NOT_IN_TREE. Equal pfn_lo values can appear only
 * after reserve_iova() extends a node down onto an empty node, so the scan is short.
 */
static size_t iova_tree_index(const struct iova_domain *iovad,
			      const struct iova *iova)
{
	size_t i;

	for (i = iova_tree_lower_bound(iovad, iova->pfn_lo);
	     i < iovad->nr_nodes && iovad->nodes[i]->pfn_lo == iova->pfn_lo; i++)
		if (iovad->nodes[i] == iova)
			return i;
	return IOVA_NOT_IN_TREE;
}

/* the rb_link_node()/rb_insert_color() of the model's sorted array (no kernel counterpart) */
static void iova_tree_insert_at(struct iova_domain *iovad, size_t pos,
				struct iova *iova)
{
	if (iovad->nr_nodes == iovad->cap_nodes) {
		size_t cap = iovad->cap_nodes ? 2 * iovad->cap_nodes : IOVA_NODES_MIN;
		struct iova **nodes = realloc(iovad->nodes, cap * sizeof(*nodes));

		if (!nodes)
			abort();
		iovad->nodes = nodes;
		iovad->cap_nodes = cap;
	}
	memmove(&iovad->nodes[pos + 1], &iovad->nodes[pos],
		(iovad->nr_nodes - pos) * sizeof(*iovad->nodes));
	iovad->nodes[pos] = iova;
	iovad->nr_nodes++;
}

/* the rb_erase() of the model's sorted array (no kernel counterpart) */
static void iova_tree_erase_at(struct iova_domain *iovad, size_t pos)
{
	memmove(&iovad->nodes[pos], &iovad->nodes[pos + 1],
		(iovad->nr_nodes - pos - 1) * sizeof(*iovad->nodes));
	iovad->nr_nodes--;
}

/* The in-order successor of the node at pos. */
/* models rb_next() */
static struct iova *iova_tree_next(const struct iova_domain *iovad, size_t pos)
{
	return pos + 1 < iovad->nr_nodes ? iovad->nodes[pos + 1] : NULL;
}

/* ---- the rb-tree allocator ---- */

/* models init_iova_domain() */
void init_iova_domain(struct iova_domain *iovad, unsigned long granule,
		      unsigned long start_pfn, struct device *dev)
{
	/* model-only: a domain the BUG below leaves behind is still safe to put */
	memset(iovad, 0, sizeof(*iovad));
	iovad->dev = dev;

	/*
	 * The IOVA granule is normally the smallest IOMMU page size. Both must be
	 * able to represent single CPU pages exactly.
	 */
	BUG_ON(dev, (granule > PAGE_SIZE) || !is_power_of_2(granule));

	iovad->cached_node = &iovad->anchor;
	iovad->cached32_node = &iovad->anchor;
	iovad->granule = granule;
	iovad->start_pfn = start_pfn;
	iovad->dma_32bit_pfn = 1UL << (32 - iova_shift(iovad));
	iovad->max32_alloc_size = iovad->dma_32bit_pfn;
	iovad->anchor.pfn_lo = iovad->anchor.pfn_hi = IOVA_ANCHOR;
	iova_tree_insert_at(iovad, 0, &iovad->anchor);
}

/* models __get_cached_rbnode() */
static struct iova *__get_cached_rbnode(struct iova_domain *iovad,
					unsigned long limit_pfn)
{
	if (limit_pfn <= iovad->dma_32bit_pfn)
		return iovad->cached32_node;

	return iovad->cached_node;
}

/* models __cached_rbnode_insert_update() */
static void __cached_rbnode_insert_update(struct iova_domain *iovad,
					  struct iova *new)
{
	if (new->pfn_hi < iovad->dma_32bit_pfn)
		iovad->cached32_node = new;
	else
		iovad->cached_node = new;
}

/* pos is free's place in the tree, before the erase. */
/* models __cached_rbnode_delete_update() */
static void __cached_rbnode_delete_update(struct iova_domain *iovad,
					  struct iova *free, size_t pos)
{
	struct iova *cached_iova;

	cached_iova = iovad->cached32_node;
	if (free == cached_iova ||
	    (free->pfn_hi < iovad->dma_32bit_pfn &&
	     free->pfn_lo >= IOVA_DEREF(iovad, cached_iova, "cached32_node")->pfn_lo))
		iovad->cached32_node = iova_tree_next(iovad, pos);

	if (free->pfn_lo < iovad->dma_32bit_pfn)
		iovad->max32_alloc_size = iovad->dma_32bit_pfn;

	cached_iova = iovad->cached_node;
	if (free->pfn_lo >= IOVA_DEREF(iovad, cached_iova, "cached_node")->pfn_lo)
		iovad->cached_node = iova_tree_next(iovad, pos);
}

/*
 * Sets *pos to the node's place.
 *
 * Below the 32-bit boundary the kernel walks from the root to a node at or above limit_pfn.
 * Every node between that node and the top of the tree starts at or above limit_pfn, and
 * none of them contains the retry candidate, which lies below limit_pfn. So the retry pass
 * gives the same result when it starts from the top (spec §1.4). The kernel's walk runs
 * off the tree (a NULL dereference) when no node ends at or above limit_pfn. That can only
 * happen once the anchor has been freed.
 */
/* models iova_find_limit() */
static struct iova *iova_find_limit(struct iova_domain *iovad,
				    unsigned long limit_pfn, size_t *pos)
{
	if (limit_pfn > iovad->dma_32bit_pfn) {
		*pos = iova_tree_index(iovad, &iovad->anchor);
		if (*pos == IOVA_NOT_IN_TREE)
			iova_bug(iovad, "rb_prev() of the erased anchor (not modelled)");
		return &iovad->anchor;
	}

	if (!iovad->nr_nodes ||
	    iovad->nodes[iovad->nr_nodes - 1]->pfn_hi < limit_pfn)
		iova_bug(iovad, "NULL pointer dereference: no node ends at or above limit_pfn (the anchor was freed)");
	*pos = iovad->nr_nodes - 1;
	return iovad->nodes[*pos];
}

/*
 * Returns false when a node with the same pfn_lo stops the descent (WARN_ON(1); iova is
 * then in no tree).
 *
 * start NULL is the descent from the root. It meets an equal pfn_lo if the tree holds one.
 * start non-NULL is the allocator's descent from the node above the hole, given by its
 * place start_pos. The new node's pfn_lo is below start's; the caller has already ruled
 * out an equal pfn_lo below the hole. So both descents end at the same in-order place.
 */
/* models iova_insert_rbtree() */
static bool iova_insert_rbtree(struct iova_domain *iovad, struct iova *iova,
			       struct iova *start, size_t start_pos)
{
	size_t pos;

	if (start) {
		pos = start_pos;
	} else {
		pos = iova_tree_lower_bound(iovad, iova->pfn_lo);
		if (pos < iovad->nr_nodes &&
		    iovad->nodes[pos]->pfn_lo == iova->pfn_lo) {
			/* this should not happen */
			dmadiff_report(iovad->dev, DMADIFF_REPORT_WARN_ON_ALWAYS,
				       __func__, "1");
			return false;
		}
	}
	iova_tree_insert_at(iovad, pos, iova);
	return true;
}

/* Its GFP_ATOMIC failure is not modelled. */
/* models alloc_iova_mem() */
static struct iova *alloc_iova_mem(void)
{
	struct iova *iova = calloc(1, sizeof(*iova));

	if (!iova)
		abort();
	return iova;
}

/* The kernel tells the embedded anchor by its pfn_lo. */
/* models free_iova_mem() */
static void free_iova_mem(struct iova_domain *iovad, struct iova *iova)
{
	if (iova == &iovad->anchor) {
		if (iova->pfn_lo != IOVA_ANCHOR)
			iova_bug(iovad, "kmem_cache_free() of the embedded anchor, whose pfn_lo reserve_iova() lowered (the kernel would corrupt memory)");
		return;
	}
	/* a node with pfn_lo == IOVA_ANCHOR is leaked by the kernel; nothing can tell */
	free(iova);
}

/*
 * limit_pfn is exclusive here. On success the new node is allocated at the insertion
 * point and returned in *newp.
 */
/* models __alloc_and_insert_iova_range() */
static int __alloc_and_insert_iova_range(struct iova_domain *iovad,
		unsigned long size, unsigned long limit_pfn,
		struct iova **newp, bool size_aligned)
{
	struct iova *curr, *prev, *new;
	size_t curr_pos, prev_pos;	/* curr_pos means nothing once curr is NULL */
	unsigned long new_pfn, retry_pfn;
	unsigned long align_mask = ~0UL;
	unsigned long high_pfn = limit_pfn, low_pfn = iovad->start_pfn;
	bool retried = false;

	if (size_aligned)
		align_mask = shl_hw(align_mask, fls_long(size - 1));

	/* the fail-fast test for the 32-bit space, under the rbtree lock */
	if (limit_pfn <= iovad->dma_32bit_pfn &&
	    size >= iovad->max32_alloc_size)
		goto iova32_full;

	if (!size)
		iova_bug(iovad, "alloc_iova() of size 0: zero-sized nodes make the result depend on the rb-tree shape (not modelled)");

	curr = IOVA_DEREF(iovad, __get_cached_rbnode(iovad, limit_pfn),
			  "the cached node");
	curr_pos = iova_tree_index(iovad, curr);
	if (curr_pos == IOVA_NOT_IN_TREE)
		iova_model_bug(__func__, "the cached node is not in the tree");
	retry_pfn = curr->pfn_hi;

retry:
	/* downwards, gap by gap, from curr */
	do {
		if (curr->pfn_lo < high_pfn)
			high_pfn = curr->pfn_lo;
		new_pfn = (high_pfn - size) & align_mask;	/* wraps when high_pfn < size */
		prev = curr;
		prev_pos = curr_pos;
		curr = prev_pos ? iovad->nodes[prev_pos - 1] : NULL;
		curr_pos = prev_pos - 1;
	} while (curr && new_pfn <= curr->pfn_hi && new_pfn >= low_pfn);

	if (high_pfn < size || new_pfn < low_pfn) {
		if (low_pfn == iovad->start_pfn && retry_pfn < limit_pfn) {
			/* a second pass, over the space above the cached node only */
			if (retried)
				iova_bug(iovad, "the retry pass restarts with the same bounds forever (the kernel would hang)");
			retried = true;
			high_pfn = limit_pfn;
			low_pfn = retry_pfn + 1;
			curr = iova_find_limit(iovad, limit_pfn, &curr_pos);
			goto retry;
		}
		iovad->max32_alloc_size = size;
		goto iova32_full;
	}

	if (curr && new_pfn == curr->pfn_lo)
		iova_bug(iovad, "pfn_lo equal to that of the empty node below the hole: iova_insert_rbtree() from prev finds it only if prev has a left child (not modelled)");

	/* with size_aligned, pfn_lo is aligned to roundup_pow_of_two(size) */
	new = alloc_iova_mem();
	new->pfn_lo = new_pfn;
	new->pfn_hi = new->pfn_lo + size - 1;

	/* prev, the node just above the hole, is where the insertion starts */
	iova_insert_rbtree(iovad, new, prev, prev_pos);
	__cached_rbnode_insert_update(iovad, new);

	*newp = new;
	return 0;

iova32_full:
	return -ENOMEM;
}

/* limit_pfn is inclusive; NULL on failure. */
/* models alloc_iova() */
struct iova *alloc_iova(struct iova_domain *iovad, unsigned long size,
			unsigned long limit_pfn, bool size_aligned)
{
	struct iova *new_iova;

	if (__alloc_and_insert_iova_range(iovad, size, limit_pfn + 1,
					  &new_iova, size_aligned))
		return NULL;

	return new_iova;
}

/*
 * Sets *pos to the node's place when one is found.
 * The kernel's BST search passes through the last node whose pfn_lo <= pfn. In the
 * trees the model keeps, only that node can contain pfn: nodes do not overlap, and
 * empty nodes contain nothing.
 */
/* models private_find_iova() */
static struct iova *private_find_iova(struct iova_domain *iovad,
				      unsigned long pfn, size_t *pos)
{
	size_t lo = 0, hi = iovad->nr_nodes;
	struct iova *iova;

	/* the first node whose pfn_lo > pfn */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (iovad->nodes[mid]->pfn_lo <= pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	iova = iovad->nodes[lo - 1];
	if (pfn > iova->pfn_hi)
		return NULL;
	*pos = lo - 1;
	return iova;	/* pfn falls within iova's range */
}

/* pos is iova's place in the tree. */
/* models remove_iova() */
static void remove_iova(struct iova_domain *iovad, struct iova *iova,
			size_t pos)
{
	__cached_rbnode_delete_update(iovad, iova, pos);
	iova_tree_erase_at(iovad, pos);	/* rb_erase() */
}

/* models find_iova() */
struct iova *find_iova(struct iova_domain *iovad, unsigned long pfn)
{
	size_t pos;

	return private_find_iova(iovad, pfn, &pos);
}

/* models __free_iova() */
void __free_iova(struct iova_domain *iovad, struct iova *iova)
{
	size_t pos = iova_tree_index(iovad, iova);

	if (pos == IOVA_NOT_IN_TREE)
		iova_bug(iovad, "rb_erase() of a node that is not in the tree (not modelled)");
	remove_iova(iovad, iova, pos);
	free_iova_mem(iovad, iova);
}

/* A pfn in no node is ignored. */
/* models free_iova() */
void free_iova(struct iova_domain *iovad, unsigned long pfn)
{
	struct iova *iova;
	size_t pos;

	iova = private_find_iova(iovad, pfn, &pos);
	if (!iova)
		return;
	remove_iova(iovad, iova, pos);
	free_iova_mem(iovad, iova);
}

static bool iova_rcache_insert(struct iova_domain *iovad, unsigned long pfn,
			       unsigned long size);
static unsigned long iova_rcache_get(struct iova_domain *iovad,
				     unsigned long size,
				     unsigned long limit_pfn);
static void free_iova_rcaches(struct iova_domain *iovad);
static void free_global_cached_iovas(struct iova_domain *iovad);

/* limit_pfn is inclusive; 0 on failure. */
/* models alloc_iova_fast() */
unsigned long alloc_iova_fast(struct iova_domain *iovad, unsigned long size,
			      unsigned long limit_pfn, bool flush_rcache)
{
	unsigned long iova_pfn;
	struct iova *new_iova;

	/*
	 * Round every cacheable size up to a power of two: a cached range must not
	 * come back to a differently sized request. The order of the caller's
	 * unrounded size still matches when it is freed.
	 */
	if (size < (1 << (IOVA_RANGE_CACHE_MAX_SIZE - 1)))
		size = roundup_pow_of_two(size);

	iova_pfn = iova_rcache_get(iovad, size, limit_pfn + 1);
	if (iova_pfn)
		return iova_pfn;

retry:
	new_iova = alloc_iova(iovad, size, limit_pfn, true);
	if (!new_iova) {
		unsigned int cpu;

		if (!flush_rcache)
			return 0;

		/* return every cached range to the tree, then try once more */
		flush_rcache = false;
		for (cpu = 0; cpu < iovad->nr_cpus; cpu++)	/* for_each_online_cpu() */
			free_cpu_cached_iovas(cpu, iovad);
		free_global_cached_iovas(iovad);
		goto retry;
	}

	return new_iova->pfn_lo;
}

/* Into this CPU's rcache, else back to the tree. */
/* models free_iova_fast() */
void free_iova_fast(struct iova_domain *iovad, unsigned long pfn,
		    unsigned long size)
{
	if (iova_rcache_insert(iovad, pfn, size))
		return;

	free_iova(iovad, pfn);
}

/* The cpuhp instance is not modelled. */
/* models iova_domain_free_rcaches() */
static void iova_domain_free_rcaches(struct iova_domain *iovad)
{
	free_iova_rcaches(iovad);
}

/* Frees the rcaches, then every node of the tree. */
/* models put_iova_domain() */
void put_iova_domain(struct iova_domain *iovad)
{
	size_t i;

	if (iovad->rcaches)
		iova_domain_free_rcaches(iovad);

	/* rbtree_postorder_for_each_entry_safe() */
	for (i = 0; i < iovad->nr_nodes; i++)
		if (iovad->nodes[i] != &iovad->anchor)
			free(iovad->nodes[i]);	/* free_iova_mem(), but never the anchor */
	free(iovad->nodes);
	iovad->nodes = NULL;
	iovad->nr_nodes = 0;
	iovad->cap_nodes = 0;
	iovad->cached_node = NULL;
	iovad->cached32_node = NULL;
}

/* models __is_range_overlap() */
static int __is_range_overlap(const struct iova *iova, unsigned long pfn_lo,
			      unsigned long pfn_hi)
{
	if ((pfn_lo <= iova->pfn_hi) && (pfn_hi >= iova->pfn_lo))
		return 1;
	return 0;
}

/* models alloc_and_init_iova() */
static struct iova *alloc_and_init_iova(unsigned long pfn_lo,
					unsigned long pfn_hi)
{
	struct iova *iova = alloc_iova_mem();

	iova->pfn_lo = pfn_lo;
	iova->pfn_hi = pfn_hi;
	return iova;
}

/* models __insert_new_range() */
static struct iova *__insert_new_range(struct iova_domain *iovad,
				       unsigned long pfn_lo,
				       unsigned long pfn_hi)
{
	/* what the kernel leaks when iova_insert_rbtree() refuses the node */
	static _Thread_local struct iova orphan;
	size_t pos = iova_tree_lower_bound(iovad, pfn_lo);
	bool dup = pos < iovad->nr_nodes &&
		   iovad->nodes[pos]->pfn_lo == pfn_lo;
	struct iova *iova;

	if (!dup && pfn_hi < pfn_lo && pfn_hi + 1 != pfn_lo)
		iova_bug(iovad, "a node with pfn_hi < pfn_lo - 1: lookups around it depend on the rb-tree shape (not modelled)");

	iova = alloc_and_init_iova(pfn_lo, pfn_hi);
	if (iova_insert_rbtree(iovad, iova, NULL, 0))
		return iova;

	orphan = *iova;
	free(iova);
	return &orphan;
}

/* models __adjust_overlap_range() */
static void __adjust_overlap_range(struct iova *iova, unsigned long *pfn_lo,
				   unsigned long *pfn_hi)
{
	if (*pfn_lo < iova->pfn_lo)
		iova->pfn_lo = *pfn_lo;
	if (*pfn_hi > iova->pfn_hi)
		*pfn_lo = iova->pfn_hi + 1;
}

/*
 * Lowering the first overlapping node's pfn_lo keeps the tree
 * sorted. Every node before it ends below the new pfn_lo. An empty node can start exactly
 * there, and then it stays the first of the two, as it does in the kernel's tree.
 */
/* models reserve_iova() */
struct iova *reserve_iova(struct iova_domain *iovad, unsigned long pfn_lo,
			  unsigned long pfn_hi)
{
	struct iova *iova;
	unsigned int overlap = 0;
	size_t pos;

	/* Don't allow nonsensical pfns */
	if ((pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift(iovad))) {
		dmadiff_report(iovad->dev, DMADIFF_REPORT_WARN_ON_ALWAYS, __func__,
			       "(pfn_hi | pfn_lo) > (ULLONG_MAX >> iova_shift(iovad))");
		return NULL;
	}

	/* rb_first() onwards */
	for (pos = 0; pos < iovad->nr_nodes; pos++) {
		iova = iovad->nodes[pos];
		if (__is_range_overlap(iova, pfn_lo, pfn_hi)) {
			__adjust_overlap_range(iova, &pfn_lo, &pfn_hi);
			if ((pfn_lo >= iova->pfn_lo) && (pfn_hi <= iova->pfn_hi))
				return iova;
			overlap = 1;
		} else if (overlap) {
			break;
		}
	}

	/* no node at all overlapped, or this is what remains above the last one */
	return __insert_new_range(iovad, pfn_lo, pfn_hi);
}

/* ---- the per-CPU range caches ---- */

/* models iova_rcache_range() */
unsigned long iova_rcache_range(void)
{
	return PAGE_SIZE << (IOVA_RANGE_CACHE_MAX_SIZE - 1);
}

/* Its GFP_ATOMIC failure is not modelled. */
/* models iova_magazine_alloc() */
static struct iova_magazine *iova_magazine_alloc(void)
{
	struct iova_magazine *mag = malloc(sizeof(*mag));

	if (!mag)
		abort();
	mag->size = 0;
	mag->next = NULL;
	return mag;
}

/* models iova_magazine_free() */
static void iova_magazine_free(struct iova_magazine *mag)
{
	free(mag);
}

/* Frees in index order, each through the delete update. */
/* models iova_magazine_free_pfns() */
static void iova_magazine_free_pfns(struct iova_magazine *mag,
				    struct iova_domain *iovad)
{
	unsigned long i;

	for (i = 0; i < mag->size; ++i) {
		size_t pos;
		struct iova *iova = private_find_iova(iovad, mag->pfns[i], &pos);

		if (!iova) {
			dmadiff_report(iovad->dev, DMADIFF_REPORT_WARN_ON_ALWAYS,
				       __func__, "!iova");
			continue;
		}

		remove_iova(iovad, iova, pos);
		free_iova_mem(iovad, iova);
	}

	mag->size = 0;
}

/* models iova_magazine_full() */
static bool iova_magazine_full(const struct iova_magazine *mag)
{
	return mag->size == IOVA_MAG_SIZE;
}

/* models iova_magazine_empty() */
static bool iova_magazine_empty(const struct iova_magazine *mag)
{
	return mag->size == 0;
}

/* The caller has checked mag is not empty. */
/* models iova_magazine_pop() */
static unsigned long iova_magazine_pop(struct iova_magazine *mag,
				       unsigned long limit_pfn)
{
	int i;
	unsigned long pfn;

	/* the newest pfn at or below the limit; the tree only if there is none */
	i = (int)mag->size - 1;
	while (mag->pfns[i] > limit_pfn) {
		if (i == 0)
			return 0;
		i--;
	}

	/* the last entry fills the hole */
	pfn = mag->pfns[i];
	mag->pfns[i] = mag->pfns[--mag->size];

	return pfn;
}

/* The caller has checked mag is not full. */
/* models iova_magazine_push() */
static void iova_magazine_push(struct iova_magazine *mag, unsigned long pfn)
{
	mag->pfns[mag->size++] = pfn;
}

/* Takes the most recently pushed magazine, full again. */
/* models iova_depot_pop() */
static struct iova_magazine *iova_depot_pop(struct iova_rcache *rcache)
{
	struct iova_magazine *mag = rcache->depot;

	rcache->depot = mag->next;
	mag->next = NULL;
	mag->size = IOVA_MAG_SIZE;
	rcache->depot_size--;
	return mag;
}

/* models iova_depot_push() */
static void iova_depot_push(struct iova_rcache *rcache,
			    struct iova_magazine *mag)
{
	mag->next = rcache->depot;
	rcache->depot = mag;
	rcache->depot_size++;
}

/* Above num_online_cpus() magazines it trims one and reschedules itself. */
/* models iova_depot_work_func() */
static void iova_depot_work_func(struct iova_domain *iovad,
				 struct iova_rcache *rcache)
{
	struct iova_magazine *mag;

	if (rcache->depot_size <= iovad->nr_cpus)
		return;

	/* iova_depot_pop(), unlinked after its pfns are freed (see the top of the file) */
	mag = rcache->depot;
	mag->size = IOVA_MAG_SIZE;
	iova_magazine_free_pfns(mag, iovad);
	iova_depot_pop(rcache);
	iova_magazine_free(mag);
	rcache->work_pending = true;	/* schedule_delayed_work(&rcache->work, IOVA_DEPOT_DELAY) */
}

/* One IOVA_DEPOT_DELAY tick: each pending depot work runs once, orders 0 to 5. */
void iova_depot_work_tick(struct iova_domain *iovad)
{
	int i;

	if (!iovad->rcaches)
		return;
	for (i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; ++i) {
		struct iova_rcache *rcache = &iovad->rcaches[i];

		if (!rcache->work_pending)
			continue;
		rcache->work_pending = false;
		iova_depot_work_func(iovad, rcache);
	}
}

/*
 * Gives every CPU an empty loaded and prev magazine per order. A second call frees the
 * first call's caches; the kernel would leak them.
 */
/* models iova_domain_init_rcaches() */
int iova_domain_init_rcaches(struct iova_domain *iovad, unsigned int nr_cpus)
{
	unsigned int cpu;
	int i;

	if (iovad->rcaches)
		free_iova_rcaches(iovad);

	iovad->nr_cpus = nr_cpus;
	iovad->rcaches = calloc(IOVA_RANGE_CACHE_MAX_SIZE, sizeof(*iovad->rcaches));
	if (!iovad->rcaches)
		abort();

	for (i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; ++i) {
		struct iova_rcache *rcache = &iovad->rcaches[i];

		rcache->cpu_rcaches = calloc(nr_cpus ? nr_cpus : 1,
					     sizeof(*rcache->cpu_rcaches));
		if (!rcache->cpu_rcaches)
			abort();
		for (cpu = 0; cpu < nr_cpus; cpu++) {	/* for_each_possible_cpu() */
			struct iova_cpu_rcache *cpu_rcache = &rcache->cpu_rcaches[cpu];

			cpu_rcache->loaded = iova_magazine_alloc();
			cpu_rcache->prev = iova_magazine_alloc();
		}
	}

	return 0;
}

/*
 * Fills loaded; else swaps in prev if that is not full; else pushes the full loaded
 * onto the depot and loads a new empty magazine.
 */
/* models __iova_rcache_insert() */
static bool __iova_rcache_insert(struct iova_domain *iovad,
				 struct iova_rcache *rcache,
				 unsigned long iova_pfn)
{
	struct iova_cpu_rcache *cpu_rcache;
	struct iova_magazine *tmp;

	cpu_rcache = IOVA_CPU_RCACHE(iovad, rcache,
				     (unsigned int)raw_smp_processor_id(iovad->dev));

	if (!iova_magazine_full(cpu_rcache->loaded)) {
		/* room in loaded */
	} else if (!iova_magazine_full(cpu_rcache->prev)) {
		tmp = cpu_rcache->prev;
		cpu_rcache->prev = cpu_rcache->loaded;
		cpu_rcache->loaded = tmp;
	} else {
		struct iova_magazine *new_mag = iova_magazine_alloc();

		iova_depot_push(rcache, cpu_rcache->loaded);
		/* schedule_delayed_work(): not re-armed when already pending */
		rcache->work_pending = true;

		cpu_rcache->loaded = new_mag;
	}

	iova_magazine_push(cpu_rcache->loaded, iova_pfn);

	return true;
}

/* Returns false for orders the caches do not hold. */
/* models iova_rcache_insert() */
static bool iova_rcache_insert(struct iova_domain *iovad, unsigned long pfn,
			       unsigned long size)
{
	unsigned int log_size = (unsigned int)order_base_2(size);

	if (log_size >= IOVA_RANGE_CACHE_MAX_SIZE)
		return false;

	return __iova_rcache_insert(iovad, &IOVA_RCACHES(iovad)[log_size], pfn);
}

/*
 * Pops from loaded; else swaps in a non-empty prev; else replaces loaded with the newest
 * depot magazine. The swap and the depot pop stay even when the pop then finds nothing
 * under the limit.
 */
/* models __iova_rcache_get() */
static unsigned long __iova_rcache_get(struct iova_domain *iovad,
				       struct iova_rcache *rcache,
				       unsigned long limit_pfn)
{
	struct iova_cpu_rcache *cpu_rcache;
	struct iova_magazine *tmp;
	unsigned long iova_pfn = 0;
	bool has_pfn = false;

	cpu_rcache = IOVA_CPU_RCACHE(iovad, rcache,
				     (unsigned int)raw_smp_processor_id(iovad->dev));

	if (!iova_magazine_empty(cpu_rcache->loaded)) {
		has_pfn = true;
	} else if (!iova_magazine_empty(cpu_rcache->prev)) {
		tmp = cpu_rcache->prev;
		cpu_rcache->prev = cpu_rcache->loaded;
		cpu_rcache->loaded = tmp;
		has_pfn = true;
	} else if (rcache->depot) {
		iova_magazine_free(cpu_rcache->loaded);
		cpu_rcache->loaded = iova_depot_pop(rcache);
		has_pfn = true;
	}

	if (has_pfn)
		iova_pfn = iova_magazine_pop(cpu_rcache->loaded, limit_pfn);

	return iova_pfn;
}

/* limit_pfn is exclusive; 0 when nothing fits. */
/* models iova_rcache_get() */
static unsigned long iova_rcache_get(struct iova_domain *iovad,
				     unsigned long size,
				     unsigned long limit_pfn)
{
	unsigned int log_size = (unsigned int)order_base_2(size);

	if (log_size >= IOVA_RANGE_CACHE_MAX_SIZE)
		return 0;

	return __iova_rcache_get(iovad, &IOVA_RCACHES(iovad)[log_size],
				 limit_pfn - size);
}

/* Drops depot magazines without freeing their pfns. */
/* models free_iova_rcaches() */
static void free_iova_rcaches(struct iova_domain *iovad)
{
	unsigned int cpu;

	for (int i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; ++i) {
		struct iova_rcache *rcache = &iovad->rcaches[i];

		if (!rcache->cpu_rcaches)
			break;
		for (cpu = 0; cpu < iovad->nr_cpus; cpu++) {
			iova_magazine_free(rcache->cpu_rcaches[cpu].loaded);
			iova_magazine_free(rcache->cpu_rcaches[cpu].prev);
		}
		free(rcache->cpu_rcaches);
		rcache->cpu_rcaches = NULL;
		rcache->work_pending = false;	/* cancel_delayed_work_sync() */
		while (rcache->depot)
			iova_magazine_free(iova_depot_pop(rcache));
	}

	free(iovad->rcaches);
	iovad->rcaches = NULL;
}

/* Per order, frees loaded's pfns, then prev's. */
/* models free_cpu_cached_iovas() */
void free_cpu_cached_iovas(unsigned int cpu, struct iova_domain *iovad)
{
	struct iova_rcache *rcaches = IOVA_RCACHES(iovad);
	int i;

	for (i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; ++i) {
		struct iova_cpu_rcache *cpu_rcache =
			IOVA_CPU_RCACHE(iovad, &rcaches[i], cpu);

		iova_magazine_free_pfns(cpu_rcache->loaded, iovad);
		iova_magazine_free_pfns(cpu_rcache->prev, iovad);
	}
}

/* Per order, frees the depot's magazines, newest first. */
/* models free_global_cached_iovas() */
static void free_global_cached_iovas(struct iova_domain *iovad)
{
	struct iova_rcache *rcaches = IOVA_RCACHES(iovad);

	for (int i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; ++i) {
		struct iova_rcache *rcache = &rcaches[i];

		while (rcache->depot) {
			/* iova_depot_pop(), unlinked after its pfns are freed */
			struct iova_magazine *mag = rcache->depot;

			mag->size = IOVA_MAG_SIZE;
			iova_magazine_free_pfns(mag, iovad);
			iova_depot_pop(rcache);
			iova_magazine_free(mag);
		}
	}
}

/* The tree's nodes in ascending order, anchor excluded (model-only). */
size_t iova_dump_nodes(const struct iova_domain *iovad, struct iova *out,
		       size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < iovad->nr_nodes; i++) {
		if (iovad->nodes[i] == &iovad->anchor)
			continue;
		if (out && n < max)
			out[n] = *iovad->nodes[i];
		n++;
	}
	return n;
}

/* The range caches' pfns, for the harness's views (no kernel counterpart). */
size_t iova_dump_cached_pfns(const struct iova_domain *iovad, unsigned long *out, size_t max)
{
	size_t n = 0;

	if (!iovad->rcaches)
		return 0;
	for (unsigned int order = 0; order < IOVA_RANGE_CACHE_MAX_SIZE; order++) {
		const struct iova_rcache *rcache = &iovad->rcaches[order];
		const struct iova_magazine *mags[2];

		for (unsigned int cpu = 0; cpu < iovad->nr_cpus; cpu++) {
			mags[0] = rcache->cpu_rcaches[cpu].loaded;
			mags[1] = rcache->cpu_rcaches[cpu].prev;
			for (int m = 0; m < 2; m++)
				for (unsigned long i = 0; mags[m] && i < mags[m]->size; i++, n++)
					if (n < max)
						out[n] = mags[m]->pfns[i];
		}
		for (const struct iova_magazine *mag = rcache->depot; mag; mag = mag->next)
			for (unsigned long i = 0; i < mag->size; i++, n++)
				if (n < max)
					out[n] = mag->pfns[i];
	}
	return n;
}
