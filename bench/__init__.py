"""Side-by-side benchmarks against DataTrove on real data (not part of the distribution).

`bench.realdata` fetches the pinned third-party sources, `bench.corpus` builds the
benchmark corpora from them. Both import only the standard library at module level.
"""
