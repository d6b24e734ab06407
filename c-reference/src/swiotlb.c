// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel/dma/swiotlb.c (v6.16; the allocator is unchanged up to v6.18)
 * without CONFIG_SWIOTLB_DYNAMIC, CONFIG_DEBUG_FS, highmem or memory
 * encryption: boot of the default pool (or of a restricted-dma-pool), the
 * slot allocator, bouncing, release, sync and swiotlb_map().
 *
 * Types follow the kernel's exactly (unsigned int masks and indices, int in
 * the release path, size_t alloc_size, unsigned short list/pad_slots),
 * because the truncations are part of the behaviour. Signed arithmetic that
 * can overflow is done through unsigned casts: the kernel builds with
 * -fno-strict-overflow, so it wraps there too.
 *
 * Model deviations:
 *  - file-scope state (io_tlb_default_mem, default_nslabs, ...) is per boot,
 *    in struct swiotlb_globals (swiotlb.h), reached through dev->swiotlb;
 *  - slots[] is stored per 128-slot segment, allocated on first write; an
 *    unwritten slot reads as swiotlb_init_io_tlb_pool() left it;
 *  - a slot index outside [0, nslabs) reads as { orig INVALID, alloc_size 0,
 *    list 0, pad_slots 0 } (swiotlb.md §3: list 0 past the end); where the
 *    kernel would write outside slots[] (a release of an address the map did
 *    not return, a map of 2^43 bytes or more) the model stops with a BUG
 *    report "slot index out of range (the kernel would corrupt memory)", as
 *    the v6.18 model does.
 */
#include <stdlib.h>
#include <string.h>

#include "dma-direct.h"
#include "dma-map-ops.h"
#include "swiotlb.h"
#include "trace-swiotlb.h"

/* The kernel's int-vs-unsigned comparisons are kept verbatim (BUG_ON prints its condition). */
#pragma GCC diagnostic ignored "-Wsign-compare"

#define SLABS_PER_PAGE (1 << (PAGE_SHIFT - IO_TLB_SHIFT))

/* Minimum IO TLB size to bother booting with: 1 MiB */
#define IO_TLB_MIN_SLABS ((1<<20) >> IO_TLB_SHIFT)

#define INVALID_PHYS_ADDR (~(phys_addr_t)0)

/*
 * The largest pool the model boots (512 GiB); indices stay far from the
 * int/unsigned int limits of the kernel's code, and the segment pointer
 * array stays small (model-only).
 */
#define DMADIFF_SWIOTLB_MAX_NSLABS	(1UL << 28)

/* struct io_tlb_slot, private to kernel/dma/swiotlb.c */
struct io_tlb_slot {
	phys_addr_t orig_addr;
	size_t alloc_size;
	unsigned short list;
	unsigned short pad_slots;
};

/* models is_power_of_2() of include/linux/log2.h */
static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && ((n & (n - 1)) == 0);
}

/* models roundup_pow_of_two() of include/linux/log2.h, for 1 <= n <= 2^63 */
static inline unsigned long roundup_pow_of_two(unsigned long n)
{
	return 1UL << fls64(n - 1);
}

/* models io_tlb_offset() */
static inline unsigned long io_tlb_offset(unsigned long val)
{
	return val & (IO_TLB_SEGSIZE - 1);
}

/* models nr_slots(): DIV_ROUND_UP in u64, so it wraps for val > 2^64 - 2048 */
static inline unsigned long nr_slots(u64 val)
{
	return DIV_ROUND_UP(val, IO_TLB_SIZE);
}

/* ---- the sparse slot array (model-only) ---- */

/* The state swiotlb_init_io_tlb_pool() gives slots[i]. */
static struct io_tlb_slot slot_initial(const struct io_tlb_pool *pool,
		unsigned long i)
{
	unsigned long to_seg_end = IO_TLB_SEGSIZE - io_tlb_offset(i);
	unsigned long to_pool_end = pool->nslabs - i;
	struct io_tlb_slot slot = {
		.orig_addr = INVALID_PHYS_ADDR,
		.alloc_size = 0,
		/* the clamp of CVE-2023-52790: no free run past the pool end */
		.list = (unsigned short)(to_seg_end < to_pool_end ?
					 to_seg_end : to_pool_end),
		.pad_slots = 0,
	};

	return slot;
}

/* mem->slots[i], read. */
static struct io_tlb_slot slot_get(const struct io_tlb_pool *pool, long long i)
{
	struct io_tlb_slot beyond = { .orig_addr = INVALID_PHYS_ADDR };
	const struct io_tlb_slot *seg;

	if (i < 0 || (unsigned long long)i >= pool->nslabs)
		return beyond;
	seg = pool->segs[i / IO_TLB_SEGSIZE];
	if (!seg)
		return slot_initial(pool, (unsigned long)i);
	return seg[i % IO_TLB_SEGSIZE];
}

/* &mem->slots[i], for a write: materialises the segment; NULL past the array (never reached). */
static struct io_tlb_slot *slot_mut(struct io_tlb_pool *pool, long long i)
{
	unsigned long s, base, j;
	struct io_tlb_slot *seg;

	if (i < 0 || (unsigned long long)i >= pool->nslabs)
		return NULL;
	s = (unsigned long)i / IO_TLB_SEGSIZE;
	seg = pool->segs[s];
	if (!seg) {
		seg = calloc(IO_TLB_SEGSIZE, sizeof(*seg));
		if (!seg)
			abort();
		base = s * IO_TLB_SEGSIZE;
		for (j = 0; j < IO_TLB_SEGSIZE && base + j < pool->nslabs; j++)
			seg[j] = slot_initial(pool, base + j);
		pool->segs[s] = seg;
	}
	return &seg[i % IO_TLB_SEGSIZE];
}

/* mem->slots[i].list = list */
static void slot_set_list(struct io_tlb_pool *pool, long long i,
		unsigned short list)
{
	struct io_tlb_slot *slot = slot_mut(pool, i);

	if (slot)
		slot->list = list;
}

/* mem->slots[i].alloc_size = alloc_size */
static void slot_set_alloc_size(struct io_tlb_pool *pool, long long i,
		size_t alloc_size)
{
	struct io_tlb_slot *slot = slot_mut(pool, i);

	if (slot)
		slot->alloc_size = alloc_size;
}

/* mem->slots[i].orig_addr = orig_addr */
static void slot_set_orig_addr(struct io_tlb_pool *pool, long long i,
		phys_addr_t orig_addr)
{
	struct io_tlb_slot *slot = slot_mut(pool, i);

	if (slot)
		slot->orig_addr = orig_addr;
}

/* mem->slots[i].pad_slots = pad_slots */
static void slot_set_pad_slots(struct io_tlb_pool *pool, long long i,
		unsigned short pad_slots)
{
	struct io_tlb_slot *slot = slot_mut(pool, i);

	if (slot)
		slot->pad_slots = pad_slots;
}

/* One release step: list = count, the rest back to the free state. */
static void slot_free(struct io_tlb_pool *pool, long long i,
		unsigned short list)
{
	struct io_tlb_slot *slot = slot_mut(pool, i);

	if (slot) {
		slot->list = list;
		slot->orig_addr = INVALID_PHYS_ADDR;
		slot->alloc_size = 0;
		slot->pad_slots = 0;
	}
}

/* int arithmetic as -fno-strict-overflow does it */
static inline int wrap_add(int a, int b)
{
	return (int)((unsigned int)a + (unsigned int)b);
}

/* ---- boot ---- */

/* models round_up_default_nslabs(): true if default_nslabs was rounded up */
static bool round_up_default_nslabs(struct swiotlb_globals *g)
{
	if (!g->default_nareas)
		return false;

	if (g->default_nslabs < IO_TLB_SEGSIZE * g->default_nareas)
		g->default_nslabs = IO_TLB_SEGSIZE * g->default_nareas;
	else if (is_power_of_2(g->default_nslabs))
		return false;
	g->default_nslabs = roundup_pow_of_two(g->default_nslabs);
	return true;
}

/* models swiotlb_adjust_nareas(): 0 means 1, else a power of two (pr_info not modelled) */
static void swiotlb_adjust_nareas(struct swiotlb_globals *g, unsigned int nareas)
{
	if (!nareas)
		nareas = 1;
	else if (!is_power_of_2(nareas))
		nareas = (unsigned int)roundup_pow_of_two(nareas);	/* 0 above 2^31 */

	g->default_nareas = nareas;
	round_up_default_nslabs(g);
}

/* models limit_nareas(): nareas * 128 is unsigned int arithmetic */
static unsigned int limit_nareas(unsigned int nareas, unsigned long nslots)
{
	if (nslots < nareas * IO_TLB_SEGSIZE)
		return nslots / IO_TLB_SEGSIZE;
	return nareas;
}

/* models setup_io_tlb_npages() for "swiotlb=<nslabs>[,<nareas>][,force|noforce]" */
static void setup_io_tlb_npages(struct swiotlb_globals *g,
		const struct dmadiff_swiotlb_config *cfg)
{
	/* avoid tail segment of size < IO_TLB_SEGSIZE */
	g->default_nslabs = ALIGN((unsigned long)cfg->nslabs, IO_TLB_SEGSIZE);
	if (cfg->nareas)
		swiotlb_adjust_nareas(g, cfg->nareas);
	if (cfg->mode == DMADIFF_SWIOTLB_FORCE)
		g->swiotlb_force_bounce = true;
}

/* The memblock/kcalloc allocations of the pool's areas[] and slots[] (model-only). */
static int pool_alloc(struct io_tlb_pool *pool, phys_addr_t start,
		unsigned long nslabs, unsigned int nareas)
{
	/* what no kernel boots: a pool too big for the model, a division by zero, a wrapped end */
	if (nslabs > DMADIFF_SWIOTLB_MAX_NSLABS || !nareas ||
	    (nslabs && nareas > nslabs) ||
	    start + (nslabs << IO_TLB_SHIFT) < start)
		return -1;
	pool->areas = calloc(nareas, sizeof(*pool->areas));
	pool->nsegs = DIV_ROUND_UP(nslabs, IO_TLB_SEGSIZE);
	pool->segs = calloc(pool->nsegs ? pool->nsegs : 1, sizeof(*pool->segs));
	if (!pool->areas || !pool->segs)
		return -1;
	return 0;
}

/* The matching frees (model-only; the kernel never frees a boot pool here). */
static void pool_free(struct io_tlb_pool *pool)
{
	unsigned long s;

	if (pool->segs)
		for (s = 0; s < pool->nsegs; s++)
			free(pool->segs[s]);
	free(pool->segs);
	free(pool->areas);
	pool->segs = NULL;
	pool->areas = NULL;
}

/* models swiotlb_init_io_tlb_pool(): slots start in slot_initial() state without a write */
static void swiotlb_init_io_tlb_pool(struct device *dev,
		struct io_tlb_pool *mem, phys_addr_t start, unsigned long nslabs,
		bool late_alloc, unsigned int nareas)
{
	unsigned long bytes = nslabs << IO_TLB_SHIFT, i;

	mem->nslabs = nslabs;
	mem->start = start;
	mem->end = mem->start + bytes;
	mem->late_alloc = late_alloc;
	mem->nareas = nareas;
	mem->area_nslabs = nslabs / mem->nareas;

	for (i = 0; i < mem->nareas; i++) {
		mem->areas[i].index = 0;
		mem->areas[i].used = 0;
	}

	/* slots[i] = { INVALID, 0, min(128 - i % 128, nslabs - i), 0 }: slot_initial() */

	dmadiff_boot_memzero(dev, start, bytes);
}

/* models add_mem_pool() without CONFIG_SWIOTLB_DYNAMIC */
static void add_mem_pool(struct io_tlb_mem *mem, struct io_tlb_pool *pool)
{
	mem->nslabs = pool->nslabs;
}

/* models swiotlb_init_remap(true, flags, NULL): memblock places the pool at start, first try */
static int swiotlb_init_remap(struct device *dev, struct swiotlb_globals *g,
		unsigned int flags, phys_addr_t start, unsigned int nr_cpus)
{
	struct io_tlb_pool *mem = &g->io_tlb_default_mem.defpool;
	unsigned long nslabs;
	unsigned int nareas;

	/* arm64 passes addressing_limit true with DMA_BOUNCE_UNALIGNED_KMALLOC */
	if (g->swiotlb_force_disable)
		return 0;

	g->io_tlb_default_mem.force_bounce =
		g->swiotlb_force_bounce || (flags & SWIOTLB_FORCE);

	if (!g->default_nareas)
		swiotlb_adjust_nareas(g, nr_cpus);

	nslabs = g->default_nslabs;
	nareas = limit_nareas((unsigned int)g->default_nareas, nslabs);
	/* swiotlb_memblock_alloc() succeeds at once, so no halving towards IO_TLB_MIN_SLABS */
	if (pool_alloc(mem, start, nslabs, nareas))
		return -1;

	swiotlb_init_io_tlb_pool(dev, mem, start, nslabs, false, nareas);
	add_mem_pool(&g->io_tlb_default_mem, mem);
	return 0;
}

/* models swiotlb_init(): arm64's arch_mm_preinit() call, without a remap callback */
static int swiotlb_init(struct device *dev, struct swiotlb_globals *g,
		unsigned int flags, phys_addr_t start, unsigned int nr_cpus)
{
	return swiotlb_init_remap(dev, g, flags, start, nr_cpus);
}

/* models swiotlb_dev_init() */
static void swiotlb_dev_init(struct device *dev, struct swiotlb_globals *g)
{
	dev->dma_io_tlb_mem = &g->io_tlb_default_mem;
}

/* models rmem_swiotlb_device_init(): nareas 1, nslabs = size >> IO_TLB_SHIFT unrounded */
static int rmem_swiotlb_device_init(struct device *dev,
		struct swiotlb_globals *g, phys_addr_t base, unsigned long nslabs)
{
	/* Set Per-device io tlb area to one */
	unsigned int nareas = 1;
	struct io_tlb_pool *pool;
	struct io_tlb_mem *mem;

	/* no highmem, so the PageHighMem() refusal never fires */
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -1;
	g->rmem = mem;
	pool = &mem->defpool;
	if (pool_alloc(pool, base, nslabs, nareas))
		return -1;

	swiotlb_init_io_tlb_pool(dev, pool, base, nslabs, false, nareas);
	mem->force_bounce = true;
	mem->for_alloc = true;
	add_mem_pool(mem, pool);

	dev->dma_io_tlb_mem = mem;
	return 0;
}

/* The boot: early_param("swiotlb"), swiotlb_init() at mem_init(), then swiotlb_dev_init() */
int dmadiff_swiotlb_boot(struct device *dev, struct swiotlb_globals *g,
		const struct dmadiff_swiotlb_config *cfg, unsigned int nr_cpus)
{
	memset(g, 0, sizeof(*g));
	g->default_nslabs = IO_TLB_DEFAULT_SIZE >> IO_TLB_SHIFT;
	g->mode = cfg->mode;
	dev->swiotlb = g;

	switch (cfg->mode) {
	case DMADIFF_SWIOTLB_OFF:
		/* swiotlb=noforce: swiotlb_init_remap() returns before touching anything */
		g->swiotlb_force_disable = true;
		swiotlb_dev_init(dev, g);
		return 0;
	case DMADIFF_SWIOTLB_ON:
	case DMADIFF_SWIOTLB_FORCE:
		if (cfg->nslabs > DMADIFF_SWIOTLB_MAX_NSLABS)
			return -1;
		setup_io_tlb_npages(g, cfg);
		if (swiotlb_init(dev, g, SWIOTLB_VERBOSE, cfg->start, nr_cpus))
			return -1;
		swiotlb_dev_init(dev, g);
		return 0;
	case DMADIFF_SWIOTLB_RESTRICTED:
		if (cfg->nslabs > DMADIFF_SWIOTLB_MAX_NSLABS)
			return -1;
		/*
		 * arm64 also allocates the default pool (arch_mm_preinit()), which
		 * this device never uses: only its size is kept, for
		 * is_swiotlb_allocated(); its memory is outside the model.
		 */
		swiotlb_adjust_nareas(g, nr_cpus);
		g->io_tlb_default_mem.nslabs = g->default_nslabs;
		swiotlb_dev_init(dev, g);
		return rmem_swiotlb_device_init(dev, g, cfg->start, cfg->nslabs);
	default:
		return -1;
	}
}

/* Frees the boot's pools (model-only). */
void dmadiff_swiotlb_teardown(struct swiotlb_globals *g)
{
	pool_free(&g->io_tlb_default_mem.defpool);
	if (g->rmem) {
		pool_free(&g->rmem->defpool);
		free(g->rmem);
		g->rmem = NULL;
	}
}

/* ---- the allocator ---- */

/* models swiotlb_align_offset(): the min_align bits below the slot (and alloc) alignment */
static unsigned int swiotlb_align_offset(struct device *dev,
		unsigned int align_mask, u64 addr)
{
	return addr & dma_get_min_align_mask(dev) &
		(align_mask | (IO_TLB_SIZE - 1));
}

/* models swiotlb_bounce(): no highmem, so always the phys_to_virt() memcpy */
static void swiotlb_bounce(struct device *dev, phys_addr_t tlb_addr,
		size_t size, enum dma_data_direction dir, struct io_tlb_pool *mem)
{
	int index = (tlb_addr - mem->start) >> IO_TLB_SHIFT;
	struct io_tlb_slot slot = slot_get(mem, index);
	phys_addr_t orig_addr = slot.orig_addr;
	size_t alloc_size = slot.alloc_size;
	int tlb_offset;

	if (orig_addr == INVALID_PHYS_ADDR)
		return;

	/* signed: negative inside the first offset bytes of the second and later slots */
	tlb_offset = (int)((tlb_addr & (IO_TLB_SIZE - 1)) -
			   swiotlb_align_offset(dev, 0, orig_addr));

	orig_addr += tlb_offset;
	alloc_size -= tlb_offset;

	if (size > alloc_size) {
		dev_WARN_ONCE(dev, 1,
			"Buffer overflow detected. Allocation size: %zu. Mapping size: %zu.\n",
			alloc_size, size);
		size = alloc_size;
	}

	/* PageHighMem() is false on arm64: the direct memcpy, every size (0 included) */
	if (dir == DMA_TO_DEVICE)
		dmadiff_memcpy_phys(dev, tlb_addr, orig_addr, size);
	else
		dmadiff_memcpy_phys(dev, orig_addr, tlb_addr, size);
}

/* models slot_addr(): shifted in phys_addr_t width */
static inline phys_addr_t slot_addr(phys_addr_t start, phys_addr_t idx)
{
	return start + (idx << IO_TLB_SHIFT);
}

/* models get_max_slots(): overflow-safe for boundary_mask == ~0UL */
static inline unsigned long get_max_slots(unsigned long boundary_mask)
{
	return (boundary_mask >> IO_TLB_SHIFT) + 1;
}

/* models wrap_area_index(): back to 0 past the end, not a modulo */
static unsigned int wrap_area_index(struct io_tlb_pool *mem, unsigned int index)
{
	if (index >= mem->area_nslabs)
		return 0;
	return index;
}

/* models iommu_is_span_boundary() of include/linux/iommu-helper.h */
static inline int iommu_is_span_boundary(struct device *dev, unsigned int index,
		unsigned int nr, unsigned long shift, unsigned long boundary_size)
{
	BUG_ON(dev, !is_power_of_2(boundary_size));

	shift = (shift + index) & (boundary_size - 1);
	return shift + nr > boundary_size;
}

/* models swiotlb_search_pool_area(): the v6.9+ search of spec §4 */
static int swiotlb_search_pool_area(struct device *dev, struct io_tlb_pool *pool,
		int area_index, phys_addr_t orig_addr, size_t alloc_size,
		unsigned int alloc_align_mask)
{
	struct io_tlb_area *area = pool->areas + area_index;
	unsigned long boundary_mask = dma_get_seg_boundary(dev);
	dma_addr_t tbl_dma_addr =
		phys_to_dma_unencrypted(dev, pool->start) & boundary_mask;
	unsigned long max_slots = get_max_slots(boundary_mask);
	unsigned int iotlb_align_mask = dma_get_min_align_mask(dev);
	unsigned int nslots = nr_slots(alloc_size), stride;
	unsigned int offset = swiotlb_align_offset(dev, 0, orig_addr);
	unsigned int index, slots_checked, count = 0, i;
	unsigned int slot_base;
	unsigned int slot_index;

	BUG_ON(dev, !nslots);
	BUG_ON(dev, area_index >= pool->nareas);

	/* page alignment for streaming maps >= PAGE_SIZE, judged on the raw min_align_mask */
	if (!alloc_align_mask && !iotlb_align_mask && alloc_size >= PAGE_SIZE)
		alloc_align_mask = PAGE_SIZE - 1;

	/* at least slot-aligned; min_align bits inside alloc_align come from the offset */
	alloc_align_mask |= (IO_TLB_SIZE - 1);
	iotlb_align_mask &= ~alloc_align_mask;

	/* need not be a power of two (0xfff with 0x3fff gives 7) */
	stride = get_max_slots(alloc_align_mask > iotlb_align_mask ?
			       alloc_align_mask : iotlb_align_mask);

	if (unlikely(nslots > pool->area_nslabs - area->used))
		goto not_found;

	slot_base = area_index * pool->area_nslabs;
	index = area->index;

	for (slots_checked = 0; slots_checked < pool->area_nslabs; ) {
		phys_addr_t tlb_addr;

		slot_index = slot_base + index;
		tlb_addr = slot_addr(tbl_dma_addr, slot_index);

		/* every candidate is checked; min_align only when orig_addr != 0 */
		if ((tlb_addr & alloc_align_mask) ||
		    (orig_addr && (tlb_addr & iotlb_align_mask) !=
				  (orig_addr & iotlb_align_mask))) {
			index = wrap_area_index(pool, index + 1);
			slots_checked++;
			continue;
		}

		if (!iommu_is_span_boundary(dev, slot_index, nslots,
					    nr_slots(tbl_dma_addr),
					    max_slots)) {
			if (slot_get(pool, slot_index).list >= nslots)
				goto found;
		}
		index = wrap_area_index(pool, index + stride);
		slots_checked += stride;
	}

not_found:
	return -1;

found:
	/* alloc_size per slot is size_t arithmetic: the last one may wrap */
	for (i = slot_index; i < slot_index + nslots; i++) {
		slot_set_list(pool, i, 0);
		slot_set_alloc_size(pool, i, alloc_size - (offset +
				((i - slot_index) << IO_TLB_SHIFT)));
	}
	/* for slot_index 0, i wraps to UINT_MAX whose io_tlb_offset() is 127 */
	for (i = slot_index - 1;
	     io_tlb_offset(i) != IO_TLB_SEGSIZE - 1 &&
	     slot_get(pool, i).list; i--)
		slot_set_list(pool, i, (unsigned short)++count);

	/* the next search of this area starts after this allocation */
	area->index = wrap_area_index(pool, index + nslots);
	area->used += nslots;
	/* inc_used_and_hiwater(): debugfs only */
	return slot_index;
}

/* models swiotlb_find_slots() without CONFIG_SWIOTLB_DYNAMIC: areas from the CPU's, cyclic */
static int swiotlb_find_slots(struct device *dev, phys_addr_t orig_addr,
		size_t alloc_size, unsigned int alloc_align_mask,
		struct io_tlb_pool **retpool)
{
	struct io_tlb_pool *pool;
	int start, i;
	int index;

	*retpool = pool = &dev->dma_io_tlb_mem->defpool;
	i = start = raw_smp_processor_id(dev) & (pool->nareas - 1);
	do {
		index = swiotlb_search_pool_area(dev, pool, i, orig_addr,
						 alloc_size, alloc_align_mask);
		if (index >= 0)
			return index;
		if (++i >= pool->nareas)
			i = 0;
	} while (i != start);
	return -1;
}

/* models mem_pool_used(); equal to debugfs' total_used, which counts the same nslots */
static unsigned long mem_pool_used(struct io_tlb_pool *pool)
{
	int i;
	unsigned long used = 0;

	for (i = 0; i < pool->nareas; i++)
		used += pool->areas[i].used;
	return used;
}

/* models mem_used() */
static unsigned long mem_used(struct io_tlb_mem *mem)
{
	return mem_pool_used(&mem->defpool);
}

/* models swiotlb_tbl_map_single(): v6.10+, swiotlb rounds the size itself */
phys_addr_t swiotlb_tbl_map_single(struct device *dev, phys_addr_t orig_addr,
		size_t mapping_size, unsigned int alloc_align_mask,
		enum dma_data_direction dir, unsigned long attrs)
{
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;
	unsigned int offset;
	struct io_tlb_pool *pool;
	unsigned int i;
	unsigned long n;
	size_t size;
	int index;
	phys_addr_t tlb_addr;
	unsigned short pad_slots;

	if (!mem || !mem->nslabs) {
		dev_warn_ratelimited(dev,
			"Can not allocate SWIOTLB buffer earlier and can't now provide you with the DMA bounce buffer");
		return (phys_addr_t)DMA_MAPPING_ERROR;
	}

	/* cc_platform_has(CC_ATTR_MEM_ENCRYPT) is false: no "Memory encryption is active" */

	/* the pool is only PAGE_SIZE-aligned, so larger alignments waste segment heads */
	dev_WARN_ONCE(dev, alloc_align_mask > ~PAGE_MASK,
		"Alloc alignment may prevent fulfilling requests with max mapping_size\n");

	offset = swiotlb_align_offset(dev, alloc_align_mask, orig_addr);
	/* alloc_align_mask + 1 is unsigned int: 0xffffffff aligns to 0, giving size 0 */
	size = ALIGN(mapping_size + offset, alloc_align_mask + 1);
	index = swiotlb_find_slots(dev, orig_addr, size, alloc_align_mask, &pool);
	if (index == -1) {
		if (!(attrs & DMA_ATTR_NO_WARN))
			dev_warn_ratelimited(dev,
	"swiotlb buffer is full (sz: %zd bytes), total %lu (slots), used %lu (slots)\n",
				 size, mem->nslabs, mem_used(mem));
		return (phys_addr_t)DMA_MAPPING_ERROR;
	}

	/* If dma_skip_sync was set, reset it on first SWIOTLB buffer mapping */
	dma_reset_need_sync(dev);

	/* padding slots keep orig INVALID; pad_slots is recorded in the first real slot */
	pad_slots = offset >> IO_TLB_SHIFT;
	offset &= (IO_TLB_SIZE - 1);
	index += pad_slots;
	slot_set_pad_slots(pool, index, pad_slots);
	/*
	 * The loop bound is nr_slots(size) - pad_slots in unsigned long, the
	 * counter an unsigned int: past the pool only when size >= 2^43 made
	 * the search's unsigned int nslots wrap, or mapping_size + offset
	 * wrapped below the padding; the kernel then writes past slots[] (or
	 * never ends), so the model stops as if it had crashed.
	 */
	n = nr_slots(size) - pad_slots;
	if (n > pool->nslabs - (unsigned long)index)
		dmadiff_bug(dev, __func__,
			    "slot index out of range (the kernel would corrupt memory)");
	for (i = 0; i < n; i++)
		slot_set_orig_addr(pool, index + i, slot_addr(orig_addr, i));
	tlb_addr = slot_addr(pool->start, index) + offset;
	/*
	 * CVE-2022-0854 (901c7280ca0d): always copy the original into the
	 * slot, whatever dir and DMA_ATTR_SKIP_CPU_SYNC, so a partial device
	 * write cannot expose stale bounce contents.
	 */
	swiotlb_bounce(dev, tlb_addr, mapping_size, DMA_TO_DEVICE, pool);
	return tlb_addr;
}

/* models swiotlb_release_slots(): the caller passes the map-time address */
static void swiotlb_release_slots(struct device *dev, phys_addr_t tlb_addr,
		struct io_tlb_pool *mem)
{
	unsigned int offset = swiotlb_align_offset(dev, 0, tlb_addr);
	int index, nslots, aindex;
	struct io_tlb_area *area;
	int count, i;

	index = (tlb_addr - offset - mem->start) >> IO_TLB_SHIFT;
	index = wrap_add(index, -(int)slot_get(mem, index).pad_slots);
	nslots = nr_slots(slot_get(mem, index).alloc_size + offset);
	aindex = index / mem->area_nslabs;

	BUG_ON(dev, aindex >= mem->nareas);
	area = &mem->areas[aindex];

	/*
	 * From here the kernel writes slots[index .. index + nslots - 1]; for an
	 * address the map did not return that can be past the array: the model
	 * stops as if the kernel had crashed (the v6.18 model does the same).
	 */
	if (index < 0 ||
	    (nslots > 0 && (long long)index + nslots > (long long)mem->nslabs))
		dmadiff_bug(dev, __func__,
			    "slot index out of range (the kernel would corrupt memory)");

	/* the run continues into the next slot only if it is in the same segment and free */
	if (index + nslots < ALIGN(index + 1, IO_TLB_SEGSIZE))
		count = slot_get(mem, index + nslots).list;
	else
		count = 0;

	/* Step 1: return the slots to the free list, merging with the slots after them */
	for (i = wrap_add(index + nslots, -1); i >= index; i--)
		slot_free(mem, i, (unsigned short)++count);

	/* Step 2: merge with the free slots before them, inside the segment */
	for (i = index - 1;
	     io_tlb_offset(i) != IO_TLB_SEGSIZE - 1 && slot_get(mem, i).list;
	     i--)
		slot_set_list(mem, i, (unsigned short)++count);
	/* area->index is not moved back by a release */
	area->used -= nslots;
	/* dec_used(): debugfs only */
}

/* models __swiotlb_tbl_unmap_single(): copy-back, then release (no transient pools) */
void __swiotlb_tbl_unmap_single(struct device *dev, phys_addr_t tlb_addr,
		size_t mapping_size, enum dma_data_direction dir,
		unsigned long attrs, struct io_tlb_pool *pool)
{
	/* First, sync the memory before unmapping the entry */
	if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC) &&
	    (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL))
		swiotlb_bounce(dev, tlb_addr, mapping_size,
			       DMA_FROM_DEVICE, pool);

	/* swiotlb_del_transient() is false without CONFIG_SWIOTLB_DYNAMIC */
	swiotlb_release_slots(dev, tlb_addr, pool);
}

/* models __swiotlb_sync_single_for_device(): FROM_DEVICE copies nothing (bddac7c1e02b) */
void __swiotlb_sync_single_for_device(struct device *dev, phys_addr_t tlb_addr,
		size_t size, enum dma_data_direction dir,
		struct io_tlb_pool *pool)
{
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		swiotlb_bounce(dev, tlb_addr, size, DMA_TO_DEVICE, pool);
	else
		BUG_ON(dev, dir != DMA_FROM_DEVICE);
}

/* models __swiotlb_sync_single_for_cpu() */
void __swiotlb_sync_single_for_cpu(struct device *dev, phys_addr_t tlb_addr,
		size_t size, enum dma_data_direction dir,
		struct io_tlb_pool *pool)
{
	if (dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL)
		swiotlb_bounce(dev, tlb_addr, size, DMA_FROM_DEVICE, pool);
	else
		BUG_ON(dev, dir != DMA_TO_DEVICE);
}

/* models swiotlb_map(): bounce, then check the slot itself is reachable */
dma_addr_t swiotlb_map(struct device *dev, phys_addr_t paddr, size_t size,
		enum dma_data_direction dir, unsigned long attrs)
{
	phys_addr_t swiotlb_addr;
	dma_addr_t dma_addr;

	trace_swiotlb_bounced(dev, phys_to_dma(dev, paddr), size);

	swiotlb_addr = swiotlb_tbl_map_single(dev, paddr, size, 0, dir, attrs);
	if (swiotlb_addr == (phys_addr_t)DMA_MAPPING_ERROR)
		return DMA_MAPPING_ERROR;

	/* Ensure that the address returned is DMA'ble */
	dma_addr = phys_to_dma_unencrypted(dev, swiotlb_addr);
	if (unlikely(!dma_capable(dev, dma_addr, size, true))) {
		__swiotlb_tbl_unmap_single(dev, swiotlb_addr, size, dir,
			attrs | DMA_ATTR_SKIP_CPU_SYNC,
			swiotlb_find_pool(dev, swiotlb_addr));
		dev_WARN_ONCE(dev, 1,
			"swiotlb addr %pad+%zu overflow (mask %llx, bus limit %llx).\n",
			&dma_addr, size, *dev->dma_mask, dev->bus_dma_limit);
		return DMA_MAPPING_ERROR;
	}

	if (!dev_is_dma_coherent(dev) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		arch_sync_dma_for_device(dev, swiotlb_addr, size, dir);
	return dma_addr;
}

/* models swiotlb_max_mapping_size(): int min_align_mask, so masks >= 2^31 go negative */
size_t swiotlb_max_mapping_size(struct device *dev)
{
	int min_align_mask = (int)dma_get_min_align_mask(dev);
	int min_align = 0;

	/* swiotlb_find_slots() skips slots according to min align mask */
	if (min_align_mask)
		/* roundup(): int arithmetic, wrapping like -fno-strict-overflow */
		min_align = (wrap_add(min_align_mask, IO_TLB_SIZE - 1) /
			     IO_TLB_SIZE) * IO_TLB_SIZE;

	return ((size_t)IO_TLB_SIZE) * IO_TLB_SEGSIZE - min_align;
}

/* models is_swiotlb_allocated(): the default pool, whichever pool the device uses */
bool is_swiotlb_allocated(const struct device *dev)
{
	return dev->swiotlb->io_tlb_default_mem.nslabs;
}

/* models is_swiotlb_active() */
bool is_swiotlb_active(struct device *dev)
{
	struct io_tlb_mem *mem = dev->dma_io_tlb_mem;

	return mem && mem->nslabs;
}

/* ---- read-only views (model-only) ---- */

/* The device's pool: the default one, or its restricted-dma-pool; none when swiotlb is off */
bool dmadiff_swiotlb_pool_info(const struct device *dev,
		struct dmadiff_swiotlb_pool_info *out)
{
	const struct io_tlb_pool *pool;

	memset(out, 0, sizeof(*out));
	if (dev->swiotlb->mode == DMADIFF_SWIOTLB_OFF)
		return false;
	pool = &dev->dma_io_tlb_mem->defpool;
	out->start = pool->start;
	out->end = pool->end;
	out->nslabs = pool->nslabs;
	out->nareas = pool->nareas;
	out->area_nslabs = pool->area_nslabs;
	out->force_bounce = dev->dma_io_tlb_mem->force_bounce;
	return true;
}

/* One slot; past the pool (or without one) the out-of-range value of slot_get() */
void dmadiff_swiotlb_slot_info(const struct device *dev, uint64_t index,
		struct dmadiff_swiotlb_slot_info *out)
{
	struct io_tlb_slot slot = { .orig_addr = INVALID_PHYS_ADDR };

	if (dev->swiotlb->mode != DMADIFF_SWIOTLB_OFF &&
	    index < dev->dma_io_tlb_mem->defpool.nslabs)
		slot = slot_get(&dev->dma_io_tlb_mem->defpool, (long long)index);
	out->orig_addr = slot.orig_addr;
	out->alloc_size = slot.alloc_size;
	out->list = slot.list;
	out->pad_slots = slot.pad_slots;
}

/* One area; zeros past the last */
void dmadiff_swiotlb_area_info(const struct device *dev, uint32_t area,
		struct dmadiff_swiotlb_area_info *out)
{
	const struct io_tlb_pool *pool = &dev->dma_io_tlb_mem->defpool;

	memset(out, 0, sizeof(*out));
	if (dev->swiotlb->mode == DMADIFF_SWIOTLB_OFF || area >= pool->nareas)
		return;
	out->index = pool->areas[area].index;
	out->used = pool->areas[area].used;
}

/* The segments with a materialised slot block, ascending; returns how many, fills up to max */
uint64_t dmadiff_swiotlb_touched(const struct device *dev, uint64_t *out,
		uint64_t max)
{
	const struct io_tlb_pool *pool = &dev->dma_io_tlb_mem->defpool;
	uint64_t n = 0;
	unsigned long s;

	if (dev->swiotlb->mode == DMADIFF_SWIOTLB_OFF)
		return 0;
	for (s = 0; s < pool->nsegs; s++) {
		if (!pool->segs[s])
			continue;
		if (n < max)
			out[n] = s;
		n++;
	}
	return n;
}
