//! What one instance of a component takes from the pooling allocator (core module instances,
//! linear memories, tables), read from the component's bytes before it is compiled, and the
//! check that it fits in one of the pool's slots. A component that needs more than a slot is
//! refused at load, naming the setting to raise, instead of failing requests later with "slots
//! are busy" once the pool's totals run out. wasmtime makes the same check after compiling
//! (the engine's per-component maximums are the slot's sizes), so a component this reading
//! cannot account for is still refused, only later and less clearly.

use std::fmt;

use serde::Serialize;
use wasmparser::{
    ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind, ComponentTypeRef,
    Instance, Parser, Payload,
};

/// What one instance of a component takes from the pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    /// Core module instances (a Rust strategy has its module plus a few adapter shims; a
    /// JavaScript one its engine's modules).
    pub core_instances: u32,
    /// Linear memories its modules define.
    pub memories: u32,
    /// Tables its modules define.
    pub tables: u32,
}

/// The per-instance resources the pool reserves in each slot.
pub type SlotSize = Footprint;

/// A resource a component needs more of than a slot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig {
    /// What is short, in the plural ("core instances").
    pub resource: &'static str,
    /// What one instance of the component needs.
    pub needed: u32,
    /// What a slot holds.
    pub per_slot: u32,
    /// The flag that sizes it.
    pub flag: &'static str,
    /// The environment variable that sizes it.
    pub env: &'static str,
}

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "one instance of it needs {} {}, and a sandbox slot holds {}; raise --{} ({}) to at \
             least {} if the component is trusted",
            self.needed, self.resource, self.per_slot, self.flag, self.env, self.needed
        )
    }
}

/// A component being read: the footprints of its core modules and nested components, in index
/// order, and what its instantiations so far add up to.
#[derive(Default)]
struct Scope {
    modules: Vec<Footprint>,
    components: Vec<Footprint>,
    total: Footprint,
}

impl Footprint {
    /// Reads what an instance of the component in `bytes` needs: every module it instantiates
    /// (in nested components too, as often as each is instantiated) with the memories and
    /// tables that module defines. wasmtime adds a few adapter instances between nested
    /// components (a componentize-qjs strategy: 11 read here, 13 in all), which its own check
    /// counts. `None` when the count depends on what is imported (a component or module
    /// imported or aliased from outside): wasmtime's check then decides alone.
    pub fn of_component(bytes: &[u8]) -> Option<Footprint> {
        let mut scopes: Vec<Scope> = Vec::new();
        // Inside a core module: what it defines so far.
        let mut module: Option<Footprint> = None;
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload.ok()?;
            if let Some(inner) = &mut module {
                match payload {
                    Payload::MemorySection(section) => inner.memories += section.count(),
                    Payload::TableSection(section) => inner.tables += section.count(),
                    Payload::End(_) => {
                        let defined = *inner;
                        scopes.last_mut()?.modules.push(defined);
                        module = None;
                    }
                    _ => {}
                }
                continue;
            }
            match payload {
                Payload::Version { .. } => scopes.push(Scope::default()),
                Payload::ModuleSection { .. } => module = Some(Footprint::default()),
                Payload::End(_) => {
                    let done = scopes.pop()?.total;
                    match scopes.last_mut() {
                        Some(outer) => outer.components.push(done),
                        None => return Some(done),
                    }
                }
                Payload::ComponentImportSection(section) => {
                    for import in section {
                        if matches!(
                            import.ok()?.ty,
                            ComponentTypeRef::Module(_) | ComponentTypeRef::Component(_)
                        ) {
                            return None;
                        }
                    }
                }
                Payload::ComponentAliasSection(section) => {
                    for alias in section {
                        if adds_a_module_or_component(&alias.ok()?) {
                            return None;
                        }
                    }
                }
                Payload::InstanceSection(section) => {
                    let scope = scopes.last_mut()?;
                    for instance in section {
                        if let Instance::Instantiate { module_index, .. } = instance.ok()? {
                            let instantiated = *scope.modules.get(usize::try_from(module_index).ok()?)?;
                            scope.total.add(&Footprint {
                                core_instances: 1,
                                ..instantiated
                            });
                        }
                    }
                }
                Payload::ComponentInstanceSection(section) => {
                    let scope = scopes.last_mut()?;
                    for instance in section {
                        if let ComponentInstance::Instantiate { component_index, .. } = instance.ok()? {
                            let instantiated =
                                *scope.components.get(usize::try_from(component_index).ok()?)?;
                            scope.total.add(&instantiated);
                        }
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn add(&mut self, other: &Footprint) {
        self.core_instances = self.core_instances.saturating_add(other.core_instances);
        self.memories = self.memories.saturating_add(other.memories);
        self.tables = self.tables.saturating_add(other.tables);
    }

    /// The first resource this footprint needs more of than `slot` holds.
    pub fn exceeds(&self, slot: &SlotSize) -> Option<TooBig> {
        [
            (
                self.core_instances,
                slot.core_instances,
                "core instances",
                "core-instances-per-slot",
                "SPOKE_BATCHES_CORE_INSTANCES_PER_SLOT",
            ),
            (
                self.memories,
                slot.memories,
                "linear memories",
                "memories-per-slot",
                "SPOKE_BATCHES_MEMORIES_PER_SLOT",
            ),
            (
                self.tables,
                slot.tables,
                "tables",
                "tables-per-slot",
                "SPOKE_BATCHES_TABLES_PER_SLOT",
            ),
        ]
        .into_iter()
        .find(|(needed, per_slot, ..)| needed > per_slot)
        .map(|(needed, per_slot, resource, flag, env)| TooBig {
            resource,
            needed,
            per_slot,
            flag,
            env,
        })
    }
}

/// Whether an alias adds an entry to the component's core module or component index space.
fn adds_a_module_or_component(alias: &ComponentAlias<'_>) -> bool {
    matches!(
        alias,
        ComponentAlias::InstanceExport {
            kind: ComponentExternalKind::Module | ComponentExternalKind::Component,
            ..
        } | ComponentAlias::Outer {
            kind: ComponentOuterAliasKind::CoreModule | ComponentOuterAliasKind::Component,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use wasm_encoder::{
        Component, ComponentExportKind, ComponentInstanceSection, InstanceSection, MemorySection, MemoryType,
        Module, ModuleArg, ModuleSection, NestedComponentSection, RefType, TableSection, TableType,
    };

    use super::{Footprint, SlotSize};

    /// A core module defining `memories` memories and `tables` tables.
    fn module(memories: u32, tables: u32) -> Module {
        let mut module = Module::new();
        if tables > 0 {
            let mut section = TableSection::new();
            for _ in 0..tables {
                section.table(TableType {
                    element_type: RefType::FUNCREF,
                    table64: false,
                    minimum: 1,
                    maximum: None,
                    shared: false,
                });
            }
            module.section(&section);
        }
        if memories > 0 {
            let mut section = MemorySection::new();
            for _ in 0..memories {
                section.memory(MemoryType {
                    minimum: 1,
                    maximum: None,
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                });
            }
            module.section(&section);
        }
        module
    }

    #[test]
    fn counts_each_instantiation_with_the_memories_and_tables_its_module_defines() {
        let mut component = Component::new();
        for (memories, tables) in [(1, 2), (0, 1), (0, 0)] {
            component.section(&ModuleSection(&module(memories, tables)));
        }
        let mut instances = InstanceSection::new();
        let none: [(&str, ModuleArg); 0] = [];
        for module_index in [0, 1, 1, 2] {
            instances.instantiate(module_index, none);
        }
        instances.export_items(Vec::<(&str, wasm_encoder::ExportKind, u32)>::new());
        component.section(&instances);
        let footprint = Footprint::of_component(&component.finish()).expect("a flat component");
        assert_eq!(
            footprint,
            Footprint {
                core_instances: 4,
                memories: 1,
                tables: 4,
            }
        );
    }

    #[test]
    fn a_nested_component_counts_as_often_as_it_is_instantiated() {
        let none: [(&str, ModuleArg); 0] = [];
        let mut inner = Component::new();
        inner.section(&ModuleSection(&module(1, 1)));
        let mut instances = InstanceSection::new();
        instances.instantiate(0, none);
        inner.section(&instances);
        let mut outer = Component::new();
        outer.section(&NestedComponentSection(&inner));
        // Defined but never instantiated: nothing.
        outer.section(&NestedComponentSection(&inner));
        let mut instances = ComponentInstanceSection::new();
        let no_args: [(&str, ComponentExportKind, u32); 0] = [];
        instances.instantiate(0, no_args);
        instances.instantiate(0, no_args);
        outer.section(&instances);
        assert_eq!(
            Footprint::of_component(&outer.finish()),
            Some(Footprint {
                core_instances: 2,
                memories: 2,
                tables: 2,
            })
        );
    }

    #[test]
    fn an_instantiation_of_an_unknown_module_is_left_to_wasmtime() {
        let mut component = Component::new();
        let mut instances = InstanceSection::new();
        let none: [(&str, ModuleArg); 0] = [];
        instances.instantiate(0, none);
        component.section(&instances);
        assert_eq!(Footprint::of_component(&component.finish()), None);
    }

    #[test]
    fn names_the_first_resource_short_and_its_setting() {
        let slot = SlotSize {
            core_instances: 8,
            memories: 2,
            tables: 4,
        };
        let fits = Footprint {
            core_instances: 8,
            memories: 2,
            tables: 4,
        };
        assert_eq!(fits.exceeds(&slot), None);
        let quickjs = Footprint {
            core_instances: 11,
            memories: 3,
            tables: 1,
        };
        let short = quickjs.exceeds(&slot).expect("too big");
        assert_eq!(
            (short.needed, short.per_slot, short.resource),
            (11, 8, "core instances")
        );
        let message = short.to_string();
        assert!(
            message
                .contains("--core-instances-per-slot (SPOKE_BATCHES_CORE_INSTANCES_PER_SLOT) to at least 11"),
            "{message}"
        );
        let memories = Footprint {
            core_instances: 1,
            ..quickjs
        }
        .exceeds(&slot)
        .expect("too big");
        assert_eq!((memories.needed, memories.flag), (3, "memories-per-slot"));
    }
}
