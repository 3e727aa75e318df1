//! Rebuilds the host when the Spoke bridge it embeds changes: `include_dir!` tracks the files
//! it found, but not a file added to the folder later.

fn main() {
    println!("cargo:rerun-if-changed=../bridge/spoke/spoke-batches");
}
