/// mimalloc rather than the C library's allocator: the static (musl) build's allocator is slow under
/// many threads, and glibc's scatters what ingest keeps among what it frees, so an export reads
/// the store from all over the heap; mimalloc keeps allocations of one size together.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sk_tracer::main_entry()
}
