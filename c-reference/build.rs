// Builds the legacy C model and generates its FFI bindings.
use std::env;
use std::path::PathBuf;

const SOURCES: &[&str] = &[
    "src/mapping.c",
    "src/direct.c",
    "src/dmadiff.c",
    "src/compat.c",
    "src/swiotlb.c",
    "src/iova.c",
    "src/dma-iommu.c",
];

fn main() {
    let mut build = cc::Build::new();
    build
        .files(SOURCES)
        .include("src/include")
        .include("src")
        .flag_if_supported("-std=gnu11")
        .flag_if_supported("-Wall")
        .flag_if_supported("-Wextra")
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Werror=implicit-function-declaration");
    if env::var_os("CARGO_FEATURE_SANITIZE").is_some() {
        build
            .flag("-fsanitize=address,undefined")
            .flag("-fno-omit-frame-pointer")
            .flag("-fno-sanitize-recover=undefined");
    }
    build.compile("dmadiff_cref");

    for entry in std::fs::read_dir("src").unwrap().chain(std::fs::read_dir("src/include/dmadiff").unwrap()) {
        println!("cargo:rerun-if-changed={}", entry.unwrap().path().display());
    }

    let bindings = bindgen::Builder::default()
        .header("src/include/dmadiff/platform.h")
        .allowlist_function("dmadiff_.*")
        .allowlist_type("dmadiff_.*")
        .allowlist_var("DMADIFF_.*")
        .prepend_enum_name(false)
        .generate()
        .expect("bindgen failed on platform.h (is libclang-dev installed? run scripts/setup)");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    bindings.write_to_file(out.join("bindings.rs")).unwrap();
}
