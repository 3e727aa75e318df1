//! The shape of the host's source, checked: no file over the size a reader takes in at once
//! (its unit tests aside), and no import cycle between files. A file imports another when it
//! names it in a `use` or in a path (`crate::…`, `super::…`, a child module's name); a path
//! resolves to the deepest module file it names, so a `mod.rs` that re-exports its children's
//! items counts as importing them, and a child that takes those items through `mod.rs` imports it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Lines a file may have before its `#[cfg(test)]` module.
const MAX_LINES: usize = 600;

/// A module path inside the crate (`["engine", "batch"]`; empty for the crate root).
type ModulePath = Vec<String>;

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, by its module path.
fn modules(dir: &Path) -> BTreeMap<ModulePath, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read the source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            if path.extension().is_none_or(|extension| extension != "rs") {
                continue;
            }
            let relative = path.strip_prefix(dir).expect("under the source root");
            let mut module: ModulePath = relative
                .with_extension("")
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.len() == 1 && module[0] == "main" {
                continue; // the binary's root, not a module of the library
            }
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            found.insert(module, path);
        }
    }
    found
}

/// Whether `attributes` hold `#[cfg(test)]`.
fn is_test_only(attributes: &[syn::Attribute]) -> bool {
    attributes.iter().any(|attribute| {
        attribute.path().is_ident("cfg")
            && attribute
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// The paths a file names outside its test-only items, and the child modules it declares.
#[derive(Default)]
struct Names {
    paths: Vec<Vec<String>>,
    children: BTreeSet<String>,
}

impl Names {
    fn use_tree(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let joined = |last: &syn::Ident| {
            let mut path = prefix.to_vec();
            path.push(last.to_string());
            path
        };
        match tree {
            syn::UseTree::Path(path) => self.use_tree(&joined(&path.ident), &path.tree),
            syn::UseTree::Name(name) if name.ident == "self" => self.paths.push(prefix.to_vec()),
            syn::UseTree::Name(name) => self.paths.push(joined(&name.ident)),
            syn::UseTree::Rename(rename) => self.paths.push(joined(&rename.ident)),
            syn::UseTree::Glob(_) => self.paths.push(prefix.to_vec()),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }

    /// `crate::a::b`-like runs of tokens inside a macro's input (not parsed as Rust).
    fn macro_tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        let mut at = 0;
        while at < tokens.len() {
            if let proc_macro2::TokenTree::Group(group) = &tokens[at] {
                self.macro_tokens(group.stream());
            }
            let starts = matches!(&tokens[at], proc_macro2::TokenTree::Ident(ident)
                if ident == "crate" || ident == "super");
            if !starts {
                at += 1;
                continue;
            }
            let mut path = vec![tokens[at].to_string()];
            at += 1;
            while let [
                proc_macro2::TokenTree::Punct(first),
                proc_macro2::TokenTree::Punct(second),
                proc_macro2::TokenTree::Ident(ident),
                ..,
            ] = &tokens[at..]
                && first.as_char() == ':'
                && second.as_char() == ':'
            {
                path.push(ident.to_string());
                at += 3;
            }
            self.paths.push(path);
        }
    }
}

impl<'ast> Visit<'ast> for Names {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attributes = match item {
            syn::Item::Mod(item) => &item.attrs,
            syn::Item::Fn(item) => &item.attrs,
            syn::Item::Impl(item) => &item.attrs,
            syn::Item::Use(item) => &item.attrs,
            syn::Item::Struct(item) => &item.attrs,
            syn::Item::Enum(item) => &item.attrs,
            syn::Item::Const(item) => &item.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if is_test_only(attributes) {
            return;
        }
        if let syn::Item::Mod(module) = item
            && module.content.is_none()
        {
            self.children.insert(module.ident.to_string());
        }
        if let syn::Item::Use(item) = item {
            self.use_tree(&[], &item.tree);
            return;
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.paths.push(
            path.segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect(),
        );
        syn::visit::visit_path(self, path);
    }

    /// `pub(super)` and `pub(crate)` name who may see an item, not a file it imports.
    fn visit_visibility(&mut self, _visibility: &'ast syn::Visibility) {}

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The module file `path`, named in `module`, resolves to: the deepest module it names.
fn resolve(
    module: &ModulePath,
    path: &[String],
    children: &BTreeSet<String>,
    files: &BTreeMap<ModulePath, PathBuf>,
) -> Option<ModulePath> {
    let (first, rest) = path.split_first()?;
    let mut base: ModulePath = match first.as_str() {
        "crate" => Vec::new(),
        "self" => module.clone(),
        "super" => module[..module.len().saturating_sub(1)].to_vec(),
        child if children.contains(child) => {
            let mut base = module.clone();
            base.push(child.to_string());
            base
        }
        _ => return None, // another crate, or an item of this file
    };
    let mut rest = rest;
    while let Some(("super", tail)) = rest.split_first().map(|(head, tail)| (head.as_str(), tail)) {
        base.pop();
        rest = tail;
    }
    let mut deepest = files.contains_key(&base).then(|| base.clone());
    for segment in rest {
        base.push(segment.clone());
        if !files.contains_key(&base) {
            break;
        }
        deepest = Some(base.clone());
    }
    deepest.filter(|target| target != module)
}

fn name(module: &ModulePath) -> String {
    if module.is_empty() {
        "lib".to_string()
    } else {
        module.join("/")
    }
}

/// Each file's imports of other files.
fn import_graph() -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
    let files = modules(&source_root());
    files
        .iter()
        .map(|(module, path)| {
            let source = std::fs::read_to_string(path).expect("read a source file");
            let file = syn::parse_file(&source).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let mut names = Names::default();
            names.visit_file(&file);
            let imports = names
                .paths
                .iter()
                .filter_map(|named| resolve(module, named, &names.children, &files))
                .collect();
            (module.clone(), imports)
        })
        .collect()
}

/// A cycle through `start`, as the files in order, if there is one.
fn cycle_through(
    graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    start: &ModulePath,
) -> Option<Vec<ModulePath>> {
    // Depth-first from `start`, remembering how each file was reached.
    let mut reached_from: BTreeMap<&ModulePath, &ModulePath> = BTreeMap::new();
    let mut pending = vec![start];
    while let Some(file) = pending.pop() {
        for import in graph.get(file).into_iter().flatten() {
            if import == start {
                let mut cycle = vec![file.clone()];
                let mut at = file;
                while at != start {
                    at = reached_from[at];
                    cycle.push(at.clone());
                }
                cycle.reverse();
                return Some(cycle);
            }
            if !reached_from.contains_key(import) {
                reached_from.insert(import, file);
                pending.push(import);
            }
        }
    }
    None
}

#[test]
fn no_file_imports_a_file_that_imports_it() {
    let graph = import_graph();
    assert!(graph.len() > 40, "the host's files were found: {}", graph.len());
    let mut cycles = BTreeSet::new();
    for file in graph.keys() {
        if let Some(cycle) = cycle_through(&graph, file) {
            let mut names: Vec<String> = cycle.iter().map(name).collect();
            // One cycle, whichever file it was found from.
            let first = names
                .iter()
                .enumerate()
                .min_by_key(|(_, name)| *name)
                .map_or(0, |(at, _)| at);
            names.rotate_left(first);
            cycles.insert(names.join(" -> "));
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files (each file imports the next, the last the first):\n{}",
        cycles.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_graph_sees_imports_through_mod_rs_and_inline_paths() {
    let graph = import_graph();
    let module = |path: &str| path.split('/').map(str::to_string).collect::<ModulePath>();
    let imports = |from: &str, to: &str| graph[&module(from)].contains(&module(to));
    // `mod.rs` re-exports its files' items: it imports them.
    assert!(imports("engine", "engine/batch"));
    // A `use crate::…` of an item resolves to the file that holds it.
    assert!(imports("engine/batch", "engine/access"));
    assert!(
        !imports("model", "engine"),
        "the model imports nothing of the engine"
    );
}

#[test]
fn no_file_is_longer_than_a_reader_takes_in_at_once() {
    let mut long = Vec::new();
    for (module, path) in modules(&source_root()) {
        let source = std::fs::read_to_string(&path).expect("read a source file");
        let lines = source
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .count();
        if lines > MAX_LINES {
            long.push(format!("{} ({lines} lines)", name(&module)));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines before their unit tests: {}",
        long.join(", ")
    );
}
