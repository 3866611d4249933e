//! The house rules that no compiler checks, over the workspace's own source.
//!
//! **No module circles.** In every crate, the modules under the crate root (`charges`, `db`,
//! `feed`, …) must form layers that only point down: if `a` uses `b`, nothing `b` uses, directly or
//! not, uses `a`. A circle makes every module in it depend on every other: none can be read, tested
//! or replaced alone. Module use is read with `syn` from each crate's own files, following `mod`
//! declarations from `lib.rs`, `main.rs` and `bin/*.rs`: every `crate::m::…` or `super::m::…` path,
//! in code, in `use` trees and in macro bodies, outside `#[cfg(test)]`.
//!
//! The circles that still exist are listed in [`KNOWN`], each with the work that removes it; the
//! test fails on any circle not listed and on a listed one that is gone (shorten the list).
//!
//! **No function over 70 lines** outside tests, from `fn` to its closing brace: a function that
//! long does several things, each of which deserves a name. Those still over are listed in
//! [`LONG`], the same way. **No HTTP handler over 40 lines** (a function with an operation's
//! `#[utoipa::path]`): a handler extracts, calls its flow and answers. None is over, and none may
//! be: there is no list of known ones.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

/// The circles known today: (crate directory, its modules), sorted by name.
/// None: the last ones (the server's handlers and infrastructure, the client's feed and history)
/// were broken when the check came (issue 17).
const KNOWN: &[(&str, &[&str])] = &[];

/// The longest a function may be, in lines.
const MAX_LINES: usize = 70;

/// The functions known to be longer: (file, function), with their length when the check came.
/// A match over every notice (`describe`), the app's and the soak harness's drivers, and the
/// client's join.
const LONG: &[(&str, &str)] = &[
    ("crates/inkan-app/src/live.rs", "run"),         // 98
    ("crates/inkan-client/src/feed.rs", "describe"), // 122
    ("crates/inkan-client/src/wallet.rs", "join"),   // 77
    ("crates/inkan-soak/src/crash.rs", "run"),       // 79
    ("crates/inkan-soak/src/crash.rs", "worker"),    // 97
];

/// The longest an HTTP handler may be, in lines.
const MAX_HANDLER_LINES: usize = 40;

/// The workspace's root directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The member crates' directories, relative to the workspace, from its `Cargo.toml`.
fn members(root: &Path) -> Vec<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let start = manifest.find("members = [").unwrap();
    let end = start + manifest[start..].find(']').unwrap();
    manifest[start..end].split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Path>().is_ok_and(|p| p.is_ident("test")))
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// What one module's code names of its crate's first-level modules.
struct Uses<'a> {
    /// The crate's first-level modules.
    modules: &'a BTreeSet<String>,
    /// Names the crate root re-exports (`pub use state::AppState;`), with their module.
    reexports: &'a BTreeMap<String, String>,
    /// How deep below the crate root the code being read sits (1: a first-level module).
    depth: usize,
    found: BTreeSet<String>,
}

impl Uses<'_> {
    /// Notes the first-level module a path of `segments` names, if it names one.
    fn path<'s>(&mut self, mut segments: impl Iterator<Item = &'s str>) {
        let next = match segments.next() {
            Some("crate") => segments.next(),
            Some("super") => {
                let mut up = 1;
                let mut next = segments.next();
                while next == Some("super") {
                    up += 1;
                    next = segments.next();
                }
                if up >= self.depth { next } else { None }
            }
            _ => None,
        };
        if let Some(module) = next.filter(|m| self.modules.contains(*m)) {
            self.found.insert(module.to_owned());
        } else if let Some(module) = next.and_then(|name| self.reexports.get(name)) {
            self.found.insert(module.clone());
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.with(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.with(prefix, &r.ident),
            syn::UseTree::Glob(_) => self.path(prefix.iter().map(String::as_str)),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| self.use_tree(prefix, t)),
        }
    }

    fn with(&mut self, prefix: &[String], last: &syn::Ident) {
        let last = last.to_string();
        self.path(prefix.iter().map(String::as_str).chain([last.as_str()]));
    }

    /// Paths in a macro's tokens (`format!`, `tracing::info!`, `sqlx::query!`, …): each `crate`
    /// or `super` followed by `::` and names.
    fn tokens(&mut self, tokens: TokenStream) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Ident(id) if id == "crate" || id == "super" => {
                    let path: Vec<String> = tokens[i..]
                        .iter()
                        .filter(|t| !matches!(t, TokenTree::Punct(p) if p.as_char() == ':'))
                        .take(8)
                        .map_while(|t| match t {
                            TokenTree::Ident(id) => Some(id.to_string()),
                            _ => None,
                        })
                        .collect();
                    self.path(path.iter().map(String::as_str));
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, module: &'ast syn::ItemMod) {
        // An inline module's `super` is one level further from the root.
        self.depth += 1;
        syn::visit::visit_item_mod(self, module);
        self.depth -= 1;
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Fn(f) => &f.attrs[..],
            syn::ImplItem::Const(c) => &c.attrs[..],
            _ => &[],
        };
        if !is_test(attrs) {
            syn::visit::visit_impl_item(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.path(segments.iter().map(String::as_str));
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        syn::visit::visit_macro(self, mac);
    }
}

/// The functions of a file outside tests, with their length in lines.
#[derive(Default)]
struct Lengths {
    found: Vec<(String, usize)>,
    /// The HTTP handlers among them.
    handlers: Vec<(String, usize)>,
}

impl Lengths {
    /// From the `fn` keyword to the closing brace: doc comments and attributes (such as an
    /// operation's OpenAPI description) are not the function's length.
    fn note(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, body: &syn::Block) {
        let (start, end) = (sig.fn_token.span.start().line, body.brace_token.span.close().end().line);
        let found = (sig.ident.to_string(), end.saturating_sub(start) + 1);
        let is_handler = attrs.iter().any(|a| {
            let path = a.path();
            path.segments.len() == 2 && path.segments[0].ident == "utoipa" && path.segments[1].ident == "path"
        });
        if is_handler {
            self.handlers.push(found.clone());
        }
        self.found.push(found);
    }
}

impl<'ast> Visit<'ast> for Lengths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test(item_attrs(item)) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.note(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) {
            self.note(&f.attrs, &f.sig, &f.block);
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(body) = &f.default {
            self.note(&f.attrs, &f.sig, body);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

/// One source file of a crate: its syntax, the directory its child modules live in, and how
/// deep below the root it sits.
struct File {
    path: PathBuf,
    syntax: syn::File,
    children_dir: PathBuf,
    depth: usize,
    /// The first-level module it belongs to; `None` for the root.
    module: Option<String>,
}

fn parse(path: &Path) -> syn::File {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of the crate whose root is `root`, following `mod name;` declarations (outside
/// `#[cfg(test)]`), with what each belongs to.
fn crate_files(root: &Path) -> Vec<File> {
    let dir = root.parent().unwrap().to_path_buf();
    let mut files =
        vec![File { path: root.to_path_buf(), syntax: parse(root), children_dir: dir, depth: 0, module: None }];
    let mut next = 0;
    while next < files.len() {
        let mut found = Vec::new();
        declared(&files[next].syntax.items, &files[next].children_dir, &mut found);
        let (depth, module) = (files[next].depth + 1, files[next].module.clone());
        for (name, dir) in found {
            let (path, children_dir) = if dir.join(format!("{name}.rs")).exists() {
                (dir.join(format!("{name}.rs")), dir.join(&name))
            } else {
                (dir.join(&name).join("mod.rs"), dir.join(&name))
            };
            let module = module.clone().or(Some(name));
            files.push(File { syntax: parse(&path), path, children_dir, depth, module });
        }
        next += 1;
    }
    files
}

/// The `mod name;` declarations in `items` (and in their inline modules), with the directory
/// each one's file is in.
fn declared(items: &[syn::Item], dir: &Path, found: &mut Vec<(String, PathBuf)>) {
    for item in items {
        if let syn::Item::Mod(m) = item
            && !is_test(&m.attrs)
        {
            match &m.content {
                None => found.push((m.ident.to_string(), dir.to_path_buf())),
                Some((_, inner)) => declared(inner, &dir.join(m.ident.to_string()), found),
            }
        }
    }
}

/// What the crate root re-exports from its modules (`pub use state::AppState;`): name → module.
fn reexports(root: &syn::File, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    fn walk(tree: &syn::UseTree, module: Option<&str>, modules: &BTreeSet<String>, out: &mut BTreeMap<String, String>) {
        match tree {
            syn::UseTree::Path(p) => {
                let name = p.ident.to_string();
                let module = match module {
                    Some(m) => Some(m.to_owned()),
                    None if modules.contains(&name) => Some(name),
                    None => None,
                };
                if module.is_some() || p.ident == "crate" || p.ident == "self" {
                    walk(&p.tree, module.as_deref(), modules, out);
                }
            }
            syn::UseTree::Name(n) => {
                if let Some(m) = module {
                    out.insert(n.ident.to_string(), m.to_owned());
                }
            }
            syn::UseTree::Rename(r) => {
                if let Some(m) = module {
                    out.insert(r.rename.to_string(), m.to_owned());
                }
            }
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| walk(t, module, modules, out)),
            syn::UseTree::Glob(_) => {}
        }
    }
    let mut out = BTreeMap::new();
    for item in &root.items {
        if let syn::Item::Use(u) = item
            && !matches!(u.vis, syn::Visibility::Inherited)
        {
            walk(&u.tree, None, modules, &mut out);
        }
    }
    out
}

/// A module circle: its modules, sorted, and the uses between them.
type Circle = (Vec<String>, Vec<(String, String)>);

/// The module circles of the crate with `root` as its root file.
fn circles(root: &Path) -> Vec<Circle> {
    let files = crate_files(root);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| f.module.clone()).collect();
    let reexports = reexports(&files[0].syntax, &modules);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = &file.module else { continue };
        let mut uses = Uses { modules: &modules, reexports: &reexports, depth: file.depth, found: BTreeSet::new() };
        uses.visit_file(&file.syntax);
        uses.found.remove(module);
        edges.entry(module.clone()).or_default().extend(uses.found);
    }
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for n in edges.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    todo.push(n.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> = modules.iter().map(|m| (m, reach(m))).collect();
    let mut placed = BTreeSet::new();
    let mut circles = Vec::new();
    for m in &modules {
        if placed.contains(m) || !reached[m].contains(m) {
            continue;
        }
        let members: Vec<String> =
            modules.iter().filter(|n| reached[m].contains(*n) && reached[*n].contains(m)).cloned().collect();
        placed.extend(members.iter().cloned());
        let inside: Vec<(String, String)> = members
            .iter()
            .flat_map(|a| {
                edges.get(a).into_iter().flatten().filter(|b| members.contains(b)).map(move |b| (a.clone(), b.clone()))
            })
            .collect();
        circles.push((members, inside));
    }
    circles
}

#[test]
fn no_module_circle_beyond_the_known_ones() {
    let root = workspace();
    let mut found: Vec<(String, Vec<String>)> = Vec::new();
    let mut report = String::new();
    for (member, crate_root) in crate_roots(&root) {
        for (members, inside) in circles(&crate_root) {
            let uses: Vec<String> = inside.iter().map(|(a, b)| format!("{a} → {b}")).collect();
            report.push_str(&format!(
                "{} ({}): {{{}}}\n    uses: {}\n",
                member,
                crate_root.file_name().unwrap().to_string_lossy(),
                members.join(", "),
                uses.join(", ")
            ));
            found.push((member.clone(), members));
        }
    }
    found.sort();
    found.dedup();
    let mut known: Vec<(String, Vec<String>)> =
        KNOWN.iter().map(|(c, m)| ((*c).to_owned(), m.iter().map(|s| (*s).to_owned()).collect())).collect();
    known.sort();
    let new: Vec<_> = found.iter().filter(|c| !known.contains(c)).collect();
    let gone: Vec<_> = known.iter().filter(|c| !found.contains(c)).collect();
    assert!(new.is_empty(), "module circles that are not known (break them; never add to KNOWN):\n{report}");
    assert!(
        gone.is_empty(),
        "known circles that are gone or changed (take them off KNOWN): {gone:?}\nfound:\n{report}"
    );
}

/// The roots of every crate of the workspace: `lib.rs`, `main.rs` and `bin/*.rs` of each member.
fn crate_roots(root: &Path) -> Vec<(String, PathBuf)> {
    let mut roots = Vec::new();
    for member in members(root) {
        let src = root.join(&member).join("src");
        roots.extend(
            ["lib.rs", "main.rs"].iter().map(|f| src.join(f)).filter(|p| p.exists()).map(|p| (member.clone(), p)),
        );
        if let Ok(bins) = std::fs::read_dir(src.join("bin")) {
            let bins =
                bins.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "rs"));
            roots.extend(bins.map(|p| (member.clone(), p)));
        }
    }
    roots
}

/// Every function of the workspace outside tests: (file, name, lines, is an HTTP handler).
fn function_lengths(root: &Path) -> Vec<(String, String, usize, bool)> {
    let mut all = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, crate_root) in crate_roots(root) {
        for file in crate_files(&crate_root) {
            if !seen.insert(file.path.clone()) {
                continue;
            }
            let mut lengths = Lengths::default();
            lengths.visit_file(&file.syntax);
            let path = file.path.strip_prefix(root).unwrap_or(&file.path).to_string_lossy().into_owned();
            let handlers: BTreeSet<_> = lengths.handlers.into_iter().collect();
            for found in lengths.found {
                let is_handler = handlers.contains(&found);
                all.push((path.clone(), found.0, found.1, is_handler));
            }
        }
    }
    all
}

/// Those of `all` over `max` lines, checked against the `known` ones: none new, none gone.
fn check_lengths(all: &[(String, String, usize)], max: usize, known: &[(&str, &str)], list: &str) {
    let over: Vec<_> = all.iter().filter(|(_, _, lines)| *lines > max).collect();
    let report: String = over.iter().map(|(path, name, lines)| format!("{path}: {name} ({lines} lines)\n")).collect();
    let long: BTreeSet<(String, String)> = over.iter().map(|(path, name, _)| (path.clone(), name.clone())).collect();
    let known: BTreeSet<(String, String)> = known.iter().map(|(p, f)| ((*p).to_owned(), (*f).to_owned())).collect();
    let new: Vec<_> = long.difference(&known).collect();
    let gone: Vec<_> = known.difference(&long).collect();
    assert!(new.is_empty(), "over {max} lines (split them; never add to {list}): {new:?}\nall:\n{report}");
    assert!(gone.is_empty(), "known long ones that are now short or gone (take them off {list}): {gone:?}");
}

#[test]
fn no_function_over_70_lines_beyond_the_known_ones() {
    let all: Vec<_> = function_lengths(&workspace()).into_iter().map(|(p, n, l, _)| (p, n, l)).collect();
    assert!(all.len() > 500, "the reader found only {} functions", all.len());
    check_lengths(&all, MAX_LINES, LONG, "LONG");
}

#[test]
fn no_handler_over_40_lines() {
    let handlers: Vec<_> =
        function_lengths(&workspace()).into_iter().filter(|f| f.3).map(|(p, n, l, _)| (p, n, l)).collect();
    // One per operation of the API (`/healthz` and `/openapi.json` among them).
    assert!(handlers.len() >= 51, "the reader found only {} handlers: {handlers:?}", handlers.len());
    // Every flow moved to `flow/` (issue 17): no handler may carry one again.
    check_lengths(&handlers, MAX_HANDLER_LINES, &[], "a list: there is none for handlers");
}

/// The server's files that still hold HTTP handlers outside `api/` (issue 17), with the work that
/// moves them: the health check and the document are the router's own (`http.rs`); the feed's
/// stream is not yet split into flow and store.
const HANDLERS_OUTSIDE_API: &[&str] = &["crates/inkan-server/src/feed.rs", "crates/inkan-server/src/http.rs"];

#[test]
fn the_server_s_handlers_live_in_api() {
    let outside: BTreeSet<String> = function_lengths(&workspace())
        .into_iter()
        .filter(|(path, _, _, is_handler)| *is_handler && !path.starts_with("crates/inkan-server/src/api/"))
        .map(|(path, ..)| path)
        .collect();
    let known: BTreeSet<String> = HANDLERS_OUTSIDE_API.iter().map(|p| (*p).to_owned()).collect();
    let new: Vec<_> = outside.difference(&known).collect();
    let gone: Vec<_> = known.difference(&outside).collect();
    assert!(
        new.is_empty(),
        "handlers outside crates/inkan-server/src/api/ (move them; never add to the list): {new:?}"
    );
    assert!(gone.is_empty(), "files on HANDLERS_OUTSIDE_API without handlers now (take them off): {gone:?}");
}

/// **The core decides, the store writes** (ARCHITECTURE.md): no SQL in the server outside `store/`
/// and `db` (the database itself): not in its handlers (`api/`), its flows (`flow/`) or any module
/// they share. Every statement is a named read or write of `store/`, which decides nothing, and
/// every decision a function of `inkan-core` the flow asks.
#[test]
fn the_server_holds_no_sql_outside_its_store() {
    let src = workspace().join("crates/inkan-server/src");
    let mut found = Vec::new();
    // Every file of the server but the database itself and the store.
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path == src.join("store") || path == src.join("db.rs") {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 40, "the server's sources were not found: {files:?}");
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains("sqlx::query") || line.contains(".execute(") {
                found.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "SQL outside the store (make it a function of store/):\n{}", found.join("\n"));
}

/// The reader itself: a crate made up here, with a circle through `use`, a path in code, a
/// macro's tokens and `super`, and uses that are not circles (tests, a module's own children).
#[test]
fn the_reader_finds_circles_through_every_kind_of_path_and_skips_tests() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a; mod b; mod c; mod d; mod e; pub mod f; mod g; mod h;\npub use g::G;");
    write("a.rs", "use crate::{b::X, d};\npub fn f() {}");
    write("b.rs", "pub struct X; fn g() { super::c::h(); }");
    write("c.rs", "pub fn h() { tracing::info!(\"{}\", crate :: a :: f()); }");
    write("d.rs", "pub fn k() {}\n#[cfg(test)]\nmod tests { use crate::a; }");
    write("e.rs", "mod inner;\npub fn m() {}");
    write("e/inner.rs", "fn n() { super::m(); super::super::f::p(); }");
    write("f.rs", "pub fn p() {}\n#[cfg(test)]\nfn t() { crate::e::m(); }");
    // A circle through a name the root re-exports.
    write("g.rs", "pub struct G; fn q() { crate::h::r(); }");
    write("h.rs", "pub fn r(_: crate::G) {}");
    let found = circles(&dir.path().join("lib.rs"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1].0, ["g", "h"]);
    let (members, inside) = &found[0];
    assert_eq!(members, &["a", "b", "c"]);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(inside, &[pair("a", "b"), pair("b", "c"), pair("c", "a")]);
}

/// A function's length runs from `fn` to its closing brace: not its doc comment, not its
/// attributes.
#[test]
fn a_function_is_measured_from_fn_to_its_closing_brace() {
    let source = "/// One.\n///\n/// Two.\n#[utoipa::path(get, path = \"/f\")]\npub async fn f() {\n    g();\n}\n\
                  struct S;\nimpl S {\n    #[must_use]\n    fn h(&self)\n    {\n    }\n}\n";
    let mut lengths = Lengths::default();
    lengths.visit_file(&syn::parse_file(source).unwrap());
    assert_eq!(lengths.found, [("f".to_owned(), 3), ("h".to_owned(), 3)]);
    assert_eq!(lengths.handlers, [("f".to_owned(), 3)], "a function with an operation's description is a handler");
}
