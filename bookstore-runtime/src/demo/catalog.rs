//! Demo catalogue data: the books of the demo shops, built from a seed.
//!
//! The first books are real, well-known titles in Spanish and English (so a demo always has
//! "Cien años de soledad" by Gabriel García Márquez to search for); the rest are plausible
//! titles assembled from fragments. Guarantees: the same seed gives the same books on every
//! platform (a splitmix64 generator, no hashing order, no clock); titles and ISBN bodies are
//! unique within one call; every field fits the domain's limits (no '#', no control
//! characters, lengths, price, year and rating ranges), and every book in stock has at least
//! 20 copies so a demo shop can take hundreds of orders without running out.

use std::collections::HashSet;
use std::ops::RangeInclusive;

/// A small seeded generator (splitmix64): fast, portable and reproducible; not for secrets.
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0), by multiply-and-shift rather than modulo.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// One of `items`, chosen uniformly; panics if `items` is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with the given probability in percent (100 or more: always).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn in_range(&mut self, range: RangeInclusive<u64>) -> u64 {
        let (low, high) = range.into_inner();
        low + self.below(high.saturating_sub(low) + 1)
    }
}

/// One demo book, ready to be turned into a `NewBook`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoBook {
    pub title: String,
    pub author: String,
    pub category: &'static str,
    pub editorial: &'static str,
    pub description: String,
    pub price_cents: u32,
    pub stock: u32,
    pub publication_year: i32,
    /// "es" or "en".
    pub language: &'static str,
    pub pages: u32,
    /// The rating times ten, 25..=50.
    pub rating_tenths: u8,
    /// The first 12 digits of an ISBN-13 (starting 978); unique within one call.
    pub isbn_body: u64,
}

/// The three demo shops: (tenant id, display name).
pub fn demo_tenants() -> [(&'static str, &'static str); 3] {
    [("libreria-sol", "Librería Sol"), ("book-haven", "Book Haven"), ("papiro", "Papiro Libros")]
}

const SPANISH: &str = "es";
const ENGLISH: &str = "en";

/// Share of generated books in Spanish; with the 60/60 classics this makes ~60% overall.
const SPANISH_PERCENT: u64 = 62;
const OUT_OF_STOCK_PERCENT: u64 = 3;
/// A demo shop sells ~500 orders of 1-3 lines; 20 copies per book keeps every book sellable.
const MIN_STOCK: u64 = 20;
const MAX_STOCK: u64 = 200;
/// Fresh draws before falling back to a " (Vol. N)" suffix for a repeated title.
const TITLE_ATTEMPTS: usize = 12;

const FICCION: &str = "Ficción";
const NOVELA_HISTORICA: &str = "Novela histórica";
const CIENCIA_FICCION: &str = "Ciencia ficción";
const FANTASIA: &str = "Fantasía";
const MISTERIO: &str = "Misterio";
const ROMANCE: &str = "Romance";
const PROGRAMACION: &str = "Programación";
const CIENCIA: &str = "Ciencia";
const HISTORIA: &str = "Historia";
const FILOSOFIA: &str = "Filosofía";
const INFANTIL: &str = "Infantil";
const BIOGRAFIA: &str = "Biografía";

/// A catalogue category with the words descriptions use for it and how generated books
/// of it look: how often it is drawn, its price range in whole euros and its page range.
struct Category {
    name: &'static str,
    label_es: &'static str,
    label_en: &'static str,
    weight: u64,
    euros: RangeInclusive<u64>,
    pages: RangeInclusive<u64>,
}

// Prices end in .95, .00 or .50 and the .95 ones sit one euro lower, so whole euros of
// 6..=59 keep every price inside 5.95..=59.95. Pages stay inside 80..=1200.
static CATEGORIES: [Category; 12] = [
    Category { name: FICCION, label_es: "ficción", label_en: "fiction", weight: 14, euros: 8..=26, pages: 150..=650 },
    Category {
        name: NOVELA_HISTORICA,
        label_es: "novela histórica",
        label_en: "historical fiction",
        weight: 9,
        euros: 10..=28,
        pages: 300..=1100,
    },
    Category {
        name: CIENCIA_FICCION,
        label_es: "ciencia ficción",
        label_en: "science fiction",
        weight: 8,
        euros: 8..=25,
        pages: 200..=800,
    },
    Category {
        name: FANTASIA, label_es: "fantasía", label_en: "fantasy", weight: 8, euros: 9..=27, pages: 250..=1100
    },
    Category { name: MISTERIO, label_es: "misterio", label_en: "mystery", weight: 12, euros: 8..=24, pages: 200..=600 },
    Category {
        name: ROMANCE,
        label_es: "novela romántica",
        label_en: "romance",
        weight: 9,
        euros: 6..=22,
        pages: 180..=550,
    },
    Category {
        name: PROGRAMACION,
        label_es: "programación",
        label_en: "programming",
        weight: 8,
        euros: 25..=59,
        pages: 220..=1000,
    },
    Category {
        name: CIENCIA,
        label_es: "divulgación científica",
        label_en: "popular science",
        weight: 7,
        euros: 14..=39,
        pages: 180..=650,
    },
    Category { name: HISTORIA, label_es: "historia", label_en: "history", weight: 8, euros: 14..=39, pages: 200..=900 },
    Category {
        name: FILOSOFIA,
        label_es: "filosofía",
        label_en: "philosophy",
        weight: 5,
        euros: 9..=29,
        pages: 120..=500,
    },
    Category {
        name: INFANTIL,
        label_es: "literatura infantil",
        label_en: "children's literature",
        weight: 7,
        euros: 6..=19,
        pages: 80..=220,
    },
    Category {
        name: BIOGRAFIA,
        label_es: "biografías",
        label_en: "biography",
        weight: 5,
        euros: 12..=32,
        pages: 220..=800,
    },
];

/// A real book: (title, author, category, year of first publication).
type Classic = (&'static str, &'static str, &'static str, i32);

const CLASSICS_ES: &[Classic] = &[
    ("Cien años de soledad", "Gabriel García Márquez", FICCION, 1967),
    ("Don Quijote de la Mancha", "Miguel de Cervantes", FICCION, 1605),
    ("La sombra del viento", "Carlos Ruiz Zafón", MISTERIO, 2001),
    ("Rayuela", "Julio Cortázar", FICCION, 1963),
    ("Pedro Páramo", "Juan Rulfo", FICCION, 1955),
    ("Ficciones", "Jorge Luis Borges", FANTASIA, 1944),
    ("La casa de los espíritus", "Isabel Allende", FICCION, 1982),
    ("El amor en los tiempos del cólera", "Gabriel García Márquez", ROMANCE, 1985),
    ("Crónica de una muerte anunciada", "Gabriel García Márquez", MISTERIO, 1981),
    ("El coronel no tiene quien le escriba", "Gabriel García Márquez", FICCION, 1961),
    ("Vivir para contarla", "Gabriel García Márquez", BIOGRAFIA, 2002),
    ("El Aleph", "Jorge Luis Borges", FANTASIA, 1949),
    ("La ciudad y los perros", "Mario Vargas Llosa", FICCION, 1963),
    ("La fiesta del Chivo", "Mario Vargas Llosa", NOVELA_HISTORICA, 2000),
    ("Como agua para chocolate", "Laura Esquivel", ROMANCE, 1989),
    ("El túnel", "Ernesto Sabato", MISTERIO, 1948),
    ("La familia de Pascual Duarte", "Camilo José Cela", FICCION, 1942),
    ("La colmena", "Camilo José Cela", FICCION, 1951),
    ("Nada", "Carmen Laforet", FICCION, 1945),
    ("Los santos inocentes", "Miguel Delibes", FICCION, 1981),
    ("Tiempo de silencio", "Luis Martín-Santos", FICCION, 1962),
    ("Marianela", "Benito Pérez Galdós", ROMANCE, 1878),
    ("Fortunata y Jacinta", "Benito Pérez Galdós", FICCION, 1887),
    ("Trafalgar", "Benito Pérez Galdós", NOVELA_HISTORICA, 1873),
    ("La Regenta", "Leopoldo Alas «Clarín»", FICCION, 1884),
    ("Los pazos de Ulloa", "Emilia Pardo Bazán", FICCION, 1886),
    ("Niebla", "Miguel de Unamuno", FICCION, 1914),
    ("Del sentimiento trágico de la vida", "Miguel de Unamuno", FILOSOFIA, 1913),
    ("La rebelión de las masas", "José Ortega y Gasset", FILOSOFIA, 1930),
    ("El laberinto de la soledad", "Octavio Paz", FILOSOFIA, 1950),
    ("La vida es sueño", "Pedro Calderón de la Barca", FILOSOFIA, 1635),
    ("Platero y yo", "Juan Ramón Jiménez", INFANTIL, 1914),
    ("La casa de Bernarda Alba", "Federico García Lorca", FICCION, 1945),
    ("Veinte poemas de amor y una canción desesperada", "Pablo Neruda", ROMANCE, 1924),
    ("Confieso que he vivido", "Pablo Neruda", BIOGRAFIA, 1974),
    ("La tregua", "Mario Benedetti", ROMANCE, 1960),
    ("Los detectives salvajes", "Roberto Bolaño", FICCION, 1998),
    ("2666", "Roberto Bolaño", MISTERIO, 2004),
    ("El capitán Alatriste", "Arturo Pérez-Reverte", NOVELA_HISTORICA, 1996),
    ("El club Dumas", "Arturo Pérez-Reverte", MISTERIO, 1993),
    ("Patria", "Fernando Aramburu", FICCION, 2016),
    ("Soldados de Salamina", "Javier Cercas", NOVELA_HISTORICA, 2001),
    ("Corazón tan blanco", "Javier Marías", FICCION, 1992),
    ("El infinito en un junco", "Irene Vallejo", HISTORIA, 2019),
    ("Historia de España contada para escépticos", "Juan Eslava Galán", HISTORIA, 2010),
    ("La catedral del mar", "Ildefonso Falcones", NOVELA_HISTORICA, 2006),
    ("El tiempo entre costuras", "María Dueñas", NOVELA_HISTORICA, 2009),
    ("La verdad sobre el caso Savolta", "Eduardo Mendoza", MISTERIO, 1975),
    ("Sin noticias de Gurb", "Eduardo Mendoza", CIENCIA_FICCION, 1991),
    ("La invención de Morel", "Adolfo Bioy Casares", CIENCIA_FICCION, 1940),
    ("El anacronópete", "Enrique Gaspar", CIENCIA_FICCION, 1887),
    ("Aura", "Carlos Fuentes", FANTASIA, 1962),
    ("El reino de este mundo", "Alejo Carpentier", NOVELA_HISTORICA, 1949),
    ("Memorias de Idhún: La Resistencia", "Laura Gallego", FANTASIA, 2004),
    ("Manolito Gafotas", "Elvira Lindo", INFANTIL, 1994),
    ("Cuentos de la selva", "Horacio Quiroga", INFANTIL, 1918),
    ("Fray Perico y su borrico", "Juan Muñoz Martín", INFANTIL, 1980),
    ("Los tónicos de la voluntad", "Santiago Ramón y Cajal", CIENCIA, 1899),
    ("Recuerdos de mi vida", "Santiago Ramón y Cajal", BIOGRAFIA, 1901),
    ("Juan Belmonte, matador de toros", "Manuel Chaves Nogales", BIOGRAFIA, 1935),
];

const CLASSICS_EN: &[Classic] = &[
    ("Pride and Prejudice", "Jane Austen", ROMANCE, 1813),
    ("Nineteen Eighty-Four", "George Orwell", CIENCIA_FICCION, 1949),
    ("The Great Gatsby", "F. Scott Fitzgerald", FICCION, 1925),
    ("To Kill a Mockingbird", "Harper Lee", FICCION, 1960),
    ("Moby-Dick", "Herman Melville", FICCION, 1851),
    ("Frankenstein", "Mary Shelley", CIENCIA_FICCION, 1818),
    ("Dracula", "Bram Stoker", FANTASIA, 1897),
    ("Jane Eyre", "Charlotte Brontë", ROMANCE, 1847),
    ("Wuthering Heights", "Emily Brontë", ROMANCE, 1847),
    ("Great Expectations", "Charles Dickens", FICCION, 1861),
    ("A Tale of Two Cities", "Charles Dickens", NOVELA_HISTORICA, 1859),
    ("The Hobbit", "J. R. R. Tolkien", FANTASIA, 1937),
    ("The Lord of the Rings", "J. R. R. Tolkien", FANTASIA, 1954),
    ("A Game of Thrones", "George R. R. Martin", FANTASIA, 1996),
    ("Dune", "Frank Herbert", CIENCIA_FICCION, 1965),
    ("Foundation", "Isaac Asimov", CIENCIA_FICCION, 1951),
    ("Fahrenheit 451", "Ray Bradbury", CIENCIA_FICCION, 1953),
    ("Brave New World", "Aldous Huxley", CIENCIA_FICCION, 1932),
    ("The Left Hand of Darkness", "Ursula K. Le Guin", CIENCIA_FICCION, 1969),
    ("Neuromancer", "William Gibson", CIENCIA_FICCION, 1984),
    ("The Hitchhiker's Guide to the Galaxy", "Douglas Adams", CIENCIA_FICCION, 1979),
    ("The Murder of Roger Ackroyd", "Agatha Christie", MISTERIO, 1926),
    ("And Then There Were None", "Agatha Christie", MISTERIO, 1939),
    ("The Hound of the Baskervilles", "Arthur Conan Doyle", MISTERIO, 1902),
    ("The Big Sleep", "Raymond Chandler", MISTERIO, 1939),
    ("Gone Girl", "Gillian Flynn", MISTERIO, 2012),
    ("Wolf Hall", "Hilary Mantel", NOVELA_HISTORICA, 2009),
    ("The Pillars of the Earth", "Ken Follett", NOVELA_HISTORICA, 1989),
    ("Beloved", "Toni Morrison", FICCION, 1987),
    ("The Catcher in the Rye", "J. D. Salinger", FICCION, 1951),
    ("The Grapes of Wrath", "John Steinbeck", FICCION, 1939),
    ("The Old Man and the Sea", "Ernest Hemingway", FICCION, 1952),
    ("Mrs Dalloway", "Virginia Woolf", FICCION, 1925),
    ("Outlander", "Diana Gabaldon", ROMANCE, 1991),
    ("Normal People", "Sally Rooney", ROMANCE, 2018),
    ("A Brief History of Time", "Stephen Hawking", CIENCIA, 1988),
    ("The Selfish Gene", "Richard Dawkins", CIENCIA, 1976),
    ("Cosmos", "Carl Sagan", CIENCIA, 1980),
    ("On the Origin of Species", "Charles Darwin", CIENCIA, 1859),
    ("Guns, Germs, and Steel", "Jared Diamond", HISTORIA, 1997),
    ("The Guns of August", "Barbara W. Tuchman", HISTORIA, 1962),
    ("SPQR: A History of Ancient Rome", "Mary Beard", HISTORIA, 2015),
    ("Leviathan", "Thomas Hobbes", FILOSOFIA, 1651),
    ("On Liberty", "John Stuart Mill", FILOSOFIA, 1859),
    ("A Theory of Justice", "John Rawls", FILOSOFIA, 1971),
    ("The Structure of Scientific Revolutions", "Thomas S. Kuhn", FILOSOFIA, 1962),
    ("The C Programming Language", "Brian W. Kernighan and Dennis M. Ritchie", PROGRAMACION, 1978),
    ("Structure and Interpretation of Computer Programs", "Harold Abelson and Gerald Jay Sussman", PROGRAMACION, 1985),
    ("The Pragmatic Programmer", "Andrew Hunt and David Thomas", PROGRAMACION, 1999),
    ("The Mythical Man-Month", "Frederick P. Brooks Jr.", PROGRAMACION, 1975),
    ("The Rust Programming Language", "Steve Klabnik and Carol Nichols", PROGRAMACION, 2018),
    ("The Art of Computer Programming", "Donald E. Knuth", PROGRAMACION, 1968),
    ("Refactoring", "Martin Fowler", PROGRAMACION, 1999),
    ("Long Walk to Freedom", "Nelson Mandela", BIOGRAFIA, 1994),
    ("Steve Jobs", "Walter Isaacson", BIOGRAFIA, 2011),
    ("I Know Why the Caged Bird Sings", "Maya Angelou", BIOGRAFIA, 1969),
    ("Alice's Adventures in Wonderland", "Lewis Carroll", INFANTIL, 1865),
    ("Charlotte's Web", "E. B. White", INFANTIL, 1952),
    ("Where the Wild Things Are", "Maurice Sendak", INFANTIL, 1963),
    ("Treasure Island", "Robert Louis Stevenson", INFANTIL, 1883),
];

const AUTHORS_ES: &[&str] = &[
    "Lucía Fernández Ortega",
    "José Ángel Núñez",
    "María Jesús Ibáñez",
    "Álvaro Montes Rivera",
    "Inés Sánchez Beltrán",
    "Martín Echeverría",
    "Begoña Aguirre Zubiri",
    "Andrés Cifuentes",
    "Nerea Gutiérrez Salas",
    "Tomás Quiroga",
    "Ramón Peña Castillo",
    "Carmen Valdés Ruiz",
    "Sofía Olmedo",
    "Joaquín Herrera Lumbreras",
    "Elena Márquez Prieto",
    "Íñigo Larrañaga",
    "Paula Domínguez Sáez",
    "Héctor Ríos",
    "Marina Soler Camps",
    "Sebastián Acuña",
    "Valentina Rojas Mejía",
    "Diego Alarcón",
    "Julia Benítez Lozano",
    "Óscar Medina Torres",
    "Rocío Caballero",
    "Gonzalo Ibarra Vidal",
    "Natalia Cortés Ferrer",
    "Emilio Baena",
    "Irene Calderón Muñoz",
    "Rubén Escudero",
    "Alba Giménez Pastor",
    "Fernando Zárate",
    "Claudia Restrepo",
    "Agustín Villalobos",
    "Mercedes Arrieta",
    "Pablo Sáenz de Tejada",
    "Nuria Castells",
    "Javier Ocaña Bravo",
    "Ximena Pérez Aranda",
    "Ignacio Lagos",
    "Pilar Montoya",
    "Germán Estévez",
    "Renata Salazar",
    "Luis Miguel Araújo",
    "Camila Fuenzalida",
];

const AUTHORS_EN: &[&str] = &[
    "Eleanor Whitfield",
    "James Harrington",
    "Margaret O'Neill",
    "Thomas Ashcroft",
    "Sarah Kingsley",
    "Daniel Fletcher",
    "Olivia Pembroke",
    "Michael Thornton",
    "Hannah Blake",
    "Robert Ellison",
    "Charlotte Hayes",
    "William Carver",
    "Emily Rutherford",
    "Nathan Cole",
    "Grace Holloway",
    "Samuel Pierce",
    "Abigail Moreland",
    "Henry Lockwood",
    "Lucy Bennett-Shaw",
    "Christopher Dunmore",
    "Rachel Adair",
    "Patrick Quinlan",
    "Julia Wentworth",
    "Edward Sinclair",
    "Megan Calloway",
    "David Okafor",
    "Priya Raman",
    "Kenji Nakamura",
    "Fiona MacLeod",
    "Owen Pritchard",
    "Naomi Fairfax",
    "George Abernathy",
    "Isla Donovan",
    "Benjamin Hale",
    "Clara Winslow",
];

const EDITORIALES_ES: &[&str] = &[
    "Alfaguara",
    "Anagrama",
    "Planeta",
    "Tusquets",
    "Salamandra",
    "Seix Barral",
    "Cátedra",
    "Siruela",
    "Penguin Random House",
];
const PUBLISHERS_EN: &[&str] = &["Penguin Random House", "Vintage", "Bloomsbury", "HarperCollins", "Faber & Faber"];
const TECH_EDITORIALES_ES: &[&str] = &["Anaya Multimedia", "Marcombo", "O'Reilly"];
const TECH_PUBLISHERS_EN: &[&str] = &["O'Reilly", "No Starch Press", "Addison-Wesley"];

/// Titles of one category: a template's first `{}` takes a pick from `first`, its second
/// `{}` (if any) a pick from `second`.
struct TitlePattern {
    category: &'static str,
    templates: &'static [&'static str],
    first: &'static [&'static str],
    second: &'static [&'static str],
}

const PROGRAMMING_LANGUAGES: &[&str] = &[
    "Rust",
    "Python",
    "Go",
    "Java",
    "JavaScript",
    "TypeScript",
    "C++",
    "Kotlin",
    "Swift",
    "Haskell",
    "Elixir",
    "Scala",
    "C",
    "SQL",
];

// Spanish fragments keep their article ("el tiempo") and `spanish_contractions` turns
// "de el" into "del" and "a el" into "al" afterwards.
const TITLES_ES: &[TitlePattern] = &[
    TitlePattern {
        category: FICCION,
        templates: &["{} {}"],
        first: &[
            "El secreto",
            "La sombra",
            "Las cartas",
            "El jardín",
            "La memoria",
            "El último verano",
            "La casa",
            "El eco",
            "Los días",
            "La hija",
            "El mapa",
            "La isla",
            "El invierno",
            "Las voces",
            "El silencio",
            "La promesa",
        ],
        second: &[
            "de la luna",
            "de los olvidados",
            "del faro",
            "del río",
            "de la calle Mayor",
            "de los almendros",
            "del cartógrafo",
            "de Valparaíso",
            "de las horas perdidas",
            "del último tren",
            "de la niebla",
            "de Buenos Aires",
            "del relojero",
            "de la abuela",
            "de agosto",
        ],
    },
    TitlePattern {
        category: NOVELA_HISTORICA,
        templates: &["{} {}"],
        first: &[
            "Los tercios",
            "La corte",
            "El médico",
            "La dama",
            "El halcón",
            "El espía",
            "La sultana",
            "El cartógrafo",
            "La heredera",
            "El escriba",
            "Las hijas",
        ],
        second: &[
            "de Toledo",
            "de Al-Ándalus",
            "de Felipe II",
            "de Córdoba",
            "del califa",
            "de Flandes",
            "de Sevilla",
            "de la Armada Invencible",
            "de Tenochtitlan",
            "del emperador",
            "de Castilla",
            "de Bizancio",
        ],
    },
    TitlePattern {
        category: CIENCIA_FICCION,
        templates: &[
            "Los últimos días de {}",
            "Crónicas de {}",
            "Regreso a {}",
            "La colonia de {}",
            "Más allá de {}",
            "Los náufragos de {}",
            "El silencio de {}",
            "Señales desde {}",
        ],
        first: &[
            "Marte",
            "Europa",
            "Titán",
            "Próxima b",
            "la Tierra",
            "Ganímedes",
            "Kepler-22",
            "Andrómeda",
            "Encélado",
            "la Luna",
            "Ceres",
            "Orión",
        ],
        second: &[],
    },
    TitlePattern {
        category: CIENCIA_FICCION,
        templates: &["{} {}"],
        first: &["Protocolo", "Proyecto", "Operación", "Código", "Misión"],
        second: &[
            "Génesis",
            "Medusa",
            "Hiperión",
            "Quimera",
            "Antares",
            "Aurora",
            "Eclipse",
            "Cronos",
            "Vega",
            "Ícaro",
            "Fénix",
        ],
    },
    TitlePattern {
        category: FANTASIA,
        templates: &[
            "El reino de {}",
            "La espada de {}",
            "Las crónicas de {}",
            "El trono de {}",
            "La profecía de {}",
            "Los dragones de {}",
            "La reina de {}",
            "La torre de {}",
            "El último mago de {}",
        ],
        first: &[
            "Aldebarán",
            "Ysmir",
            "las brumas",
            "los sueños",
            "Eldoria",
            "ceniza",
            "cristal",
            "la noche eterna",
            "Valdoria",
            "las mil lunas",
            "Umbría",
            "los susurros",
            "Nerion",
        ],
        second: &[],
    },
    TitlePattern {
        category: MISTERIO,
        templates: &[
            "Muerte en {}",
            "Crimen en {}",
            "Sombras sobre {}",
            "Nadie sale de {}",
            "Los muertos de {}",
            "Niebla sobre {}",
            "Un cadáver en {}",
            "La noche más larga de {}",
        ],
        first: &[
            "Cádiz",
            "Santiago",
            "el Albaicín",
            "Montevideo",
            "la Costa da Morte",
            "Triana",
            "Lavapiés",
            "Cartagena de Indias",
            "el Pirineo",
            "Valparaíso",
            "Oaxaca",
            "la Ribeira Sacra",
            "Bilbao",
            "el barrio Gótico",
        ],
        second: &[],
    },
    TitlePattern {
        category: MISTERIO,
        templates: &["El caso {}", "El enigma {}", "El expediente {}"],
        first: &[
            "del relojero",
            "de la dama de Ávila",
            "Medina",
            "de la viuda Ferrer",
            "del profesor Ibarra",
            "del violinista",
            "de la calle Serrano",
            "de los hermanos Ugarte",
            "Arrieta",
            "de la farmacéutica",
        ],
        second: &[],
    },
    TitlePattern {
        category: ROMANCE,
        templates: &[
            "Un verano en {}",
            "Cartas desde {}",
            "Volver a {}",
            "Te esperaré en {}",
            "Amor en {}",
            "Una promesa en {}",
            "El último baile en {}",
            "Siempre nos quedará {}",
            "Invierno en {}",
        ],
        first: &[
            "Cádiz",
            "Lisboa",
            "París",
            "Sevilla",
            "Menorca",
            "Cartagena de Indias",
            "Buenos Aires",
            "Salamanca",
            "Granada",
            "La Habana",
            "San Sebastián",
            "Roma",
            "Valparaíso",
            "Cuenca",
        ],
        second: &[],
    },
    TitlePattern {
        category: PROGRAMACION,
        templates: &[
            "Programación en {}",
            "{} para principiantes",
            "{} avanzado",
            "Aprende {} paso a paso",
            "{}: guía práctica",
            "Patrones de diseño en {}",
            "Programación concurrente en {}",
            "Desarrollo web con {}",
            "Estructuras de datos en {}",
            "{} en la práctica",
        ],
        first: PROGRAMMING_LANGUAGES,
        second: &[],
    },
    TitlePattern {
        category: PROGRAMACION,
        templates: &["Introducción a {}", "Fundamentos de {}", "Manual de {}", "Guía de {}"],
        first: &[
            "los algoritmos",
            "las bases de datos",
            "los compiladores",
            "la arquitectura de software",
            "los sistemas distribuidos",
            "la criptografía",
            "el aprendizaje automático",
            "la computación en la nube",
            "las redes de ordenadores",
            "la programación funcional",
        ],
        second: &[],
    },
    TitlePattern {
        category: CIENCIA,
        templates: &[
            "Introducción a {}",
            "Una breve historia de {}",
            "Todo lo que hay que saber sobre {}",
            "El misterio de {}",
            "Lo que sabemos de {}",
            "Preguntas y respuestas sobre {}",
            "La aventura de {}",
        ],
        first: &[
            "la física cuántica",
            "la astronomía",
            "la genética",
            "la neurociencia",
            "la ecología",
            "la química orgánica",
            "la evolución",
            "los agujeros negros",
            "el cambio climático",
            "la relatividad",
            "las partículas elementales",
            "el cerebro humano",
            "los océanos",
            "las vacunas",
        ],
        second: &[],
    },
    TitlePattern {
        category: HISTORIA,
        templates: &[
            "Breve historia de {}",
            "Historia de {}",
            "{}: una historia",
            "Auge y caída de {}",
            "Atlas histórico de {}",
            "Los secretos de {}",
            "Crónica de {}",
        ],
        first: &[
            "la Península Ibérica",
            "el Imperio romano",
            "Al-Ándalus",
            "la Revolución francesa",
            "los Austrias",
            "la Guerra Civil española",
            "América Latina",
            "el Mediterráneo",
            "la imprenta",
            "Bizancio",
            "los Reyes Católicos",
            "la Ruta de la Seda",
            "los vikingos",
            "el Imperio inca",
            "la Transición española",
        ],
        second: &[],
    },
    TitlePattern {
        category: FILOSOFIA,
        templates: &[
            "Introducción a {}",
            "Pensar {}",
            "Ensayo sobre {}",
            "Diálogos sobre {}",
            "Breve tratado sobre {}",
            "Lecciones sobre {}",
            "Elogio de {}",
        ],
        first: &[
            "la ética",
            "la libertad",
            "el tiempo",
            "la muerte",
            "la belleza",
            "la felicidad",
            "la justicia",
            "el lenguaje",
            "la conciencia",
            "la verdad",
            "el estoicismo",
            "la duda",
            "la amistad",
            "el poder",
        ],
        second: &[],
    },
    TitlePattern {
        category: INFANTIL,
        templates: &["{} y {}", "{} contra {}", "{} descubre {}"],
        first: &[
            "Martina",
            "El pequeño Nico",
            "Lola",
            "La jirafa Rita",
            "Pablo",
            "El oso Bruno",
            "La bruja Maruja",
            "Carlota",
            "Tomás",
            "La gata Mimí",
            "El pirata Barbacana",
        ],
        second: &[
            "el dragón azul",
            "la nube viajera",
            "el tesoro escondido",
            "la luna de queso",
            "el bosque encantado",
            "el árbol que hablaba",
            "los calcetines perdidos",
            "la bicicleta mágica",
            "el circo de las pulgas",
            "la noche de las estrellas",
            "el robot despistado",
        ],
    },
    TitlePattern {
        category: BIOGRAFIA,
        templates: &[
            "{}: una vida",
            "Vida de {}",
            "{}. Biografía",
            "La verdadera historia de {}",
            "Retrato de {}",
            "{}: luces y sombras",
            "Tras los pasos de {}",
        ],
        first: &[
            "Isabel la Católica",
            "Santiago Ramón y Cajal",
            "Frida Kahlo",
            "Simón Bolívar",
            "Clara Campoamor",
            "Francisco de Goya",
            "Teresa de Ávila",
            "Severo Ochoa",
            "Gabriela Mistral",
            "Antonio Machado",
            "Rosalía de Castro",
            "Manuel de Falla",
            "Emilia Pardo Bazán",
            "Sor Juana Inés de la Cruz",
            "Juan Sebastián Elcano",
        ],
        second: &[],
    },
];

const TITLES_EN: &[TitlePattern] = &[
    TitlePattern {
        category: FICCION,
        templates: &["{} {}"],
        first: &[
            "The Secret",
            "The Garden",
            "The Silence",
            "The Last Summer",
            "The House",
            "The Daughter",
            "The Map",
            "The Island",
            "The Winter",
            "The Voices",
            "The Promise",
        ],
        second: &[
            "of the Moon",
            "of the Forgotten",
            "by the River",
            "of Lost Hours",
            "in the Fog",
            "of the Clockmaker",
            "on Elm Street",
            "of the North",
            "at Dusk",
            "of Saint Agnes",
            "of the Last Train",
            "in the Orchard",
        ],
    },
    TitlePattern {
        category: NOVELA_HISTORICA,
        templates: &["{} {}"],
        first: &[
            "The Tudor",
            "The Queen's",
            "The King's",
            "The Roman",
            "The Spanish",
            "The Emperor's",
            "The Silk Merchant's",
            "The Venetian",
            "The Saxon",
            "The Cartographer's",
        ],
        second: &[
            "Daughter",
            "Spy",
            "Physician",
            "Secret",
            "Crown",
            "Scribe",
            "Heir",
            "Apprentice",
            "Falcon",
            "Wife",
            "Conspiracy",
            "Legacy",
        ],
    },
    TitlePattern {
        category: CIENCIA_FICCION,
        templates: &[
            "The Last Days of {}",
            "Chronicles of {}",
            "Return to {}",
            "The Colony on {}",
            "Beyond {}",
            "The Castaways of {}",
            "Signal from {}",
            "Dust of {}",
        ],
        first: &[
            "Mars",
            "Europa",
            "Titan",
            "Proxima b",
            "Earth",
            "Ganymede",
            "Kepler-22",
            "Andromeda",
            "Enceladus",
            "the Moon",
            "Ceres",
            "Orion",
        ],
        second: &[],
    },
    TitlePattern {
        category: CIENCIA_FICCION,
        templates: &["{} {}"],
        first: &["Project", "Protocol", "Operation", "Code", "Mission"],
        second: &[
            "Genesis", "Medusa", "Hyperion", "Chimera", "Antares", "Aurora", "Eclipse", "Kronos", "Vega", "Icarus",
            "Phoenix",
        ],
    },
    TitlePattern {
        category: FANTASIA,
        templates: &[
            "The Kingdom of {}",
            "The Sword of {}",
            "The Chronicles of {}",
            "The Throne of {}",
            "The Prophecy of {}",
            "Dragons of {}",
            "The Queen of {}",
            "The Tower of {}",
            "The Last Mage of {}",
        ],
        first: &[
            "Aldebaran",
            "Ysmir",
            "the Mists",
            "Dreams",
            "Eldoria",
            "Ash",
            "Glass",
            "the Endless Night",
            "Valdoria",
            "a Thousand Moons",
            "Umbria",
            "Whispers",
            "Nerion",
        ],
        second: &[],
    },
    TitlePattern {
        category: MISTERIO,
        templates: &[
            "Death in {}",
            "Murder at {}",
            "Shadows over {}",
            "The Body in {}",
            "No Way Out of {}",
            "A Killing in {}",
            "Silence in {}",
        ],
        first: &[
            "Cornwall",
            "Baker's Row",
            "the Old Rectory",
            "Edinburgh",
            "Harbour Street",
            "Blackwater Bay",
            "the Vicarage",
            "Oxford",
            "the Highlands",
            "Kingsbridge",
            "the Marsh",
            "Brighton Pier",
        ],
        second: &[],
    },
    TitlePattern {
        category: MISTERIO,
        templates: &["The {} Affair", "The {} Case", "The {} Files"],
        first: &[
            "Ashford",
            "Whitmore",
            "Hollow Lane",
            "Carrington",
            "Blackwood",
            "Merriweather",
            "Greystone",
            "Lockhart",
        ],
        second: &[],
    },
    TitlePattern {
        category: ROMANCE,
        templates: &[
            "A Summer in {}",
            "Letters from {}",
            "Back to {}",
            "Meet Me in {}",
            "Love in {}",
            "Our Last Dance in {}",
            "Christmas in {}",
            "A Promise in {}",
        ],
        first: &[
            "Cornwall",
            "Paris",
            "Lisbon",
            "Seville",
            "Vermont",
            "Galway",
            "Santorini",
            "Maine",
            "Tuscany",
            "Cape Cod",
            "Edinburgh",
            "Provence",
            "Savannah",
        ],
        second: &[],
    },
    TitlePattern {
        category: PROGRAMACION,
        templates: &[
            "Programming {}",
            "{} in Action",
            "Learning {}",
            "Effective {}",
            "{} for Beginners",
            "Mastering {}",
            "Practical {}",
            "{} Cookbook",
            "Concurrency in {}",
            "Idiomatic {}",
            "Hands-On {}",
            "{} Design Patterns",
        ],
        first: PROGRAMMING_LANGUAGES,
        second: &[],
    },
    TitlePattern {
        category: CIENCIA,
        templates: &[
            "A Short History of {}",
            "The Hidden Life of {}",
            "Understanding {}",
            "The Story of {}",
            "Introduction to {}",
            "The Mystery of {}",
            "Everything You Need to Know About {}",
        ],
        first: &[
            "Quantum Physics",
            "Black Holes",
            "the Human Brain",
            "Genetics",
            "the Oceans",
            "Climate Change",
            "Particle Physics",
            "Evolution",
            "the Immune System",
            "Dark Matter",
            "Bacteria",
            "the Cosmos",
            "Volcanoes",
        ],
        second: &[],
    },
    TitlePattern {
        category: HISTORIA,
        templates: &[
            "A History of {}",
            "The Rise and Fall of {}",
            "{}: A New History",
            "The Making of {}",
            "The Last Days of {}",
            "Inside {}",
            "The Age of {}",
        ],
        first: &[
            "the Roman Republic",
            "Byzantium",
            "the Silk Road",
            "the British Empire",
            "the Vikings",
            "the Ottoman Empire",
            "the Renaissance",
            "the Cold War",
            "the Industrial Revolution",
            "Ancient Egypt",
            "the Spanish Armada",
            "Medieval Europe",
            "the Aztec Empire",
        ],
        second: &[],
    },
    TitlePattern {
        category: FILOSOFIA,
        templates: &[
            "On {}",
            "A Short Introduction to {}",
            "The Meaning of {}",
            "Thinking About {}",
            "Essays on {}",
            "In Praise of {}",
            "The Ethics of {}",
            "Lectures on {}",
        ],
        first: &[
            "Freedom",
            "Time",
            "Happiness",
            "Justice",
            "Virtue",
            "Language",
            "Consciousness",
            "Truth",
            "Doubt",
            "Friendship",
            "Power",
            "Stoicism",
            "Beauty",
            "Death",
        ],
        second: &[],
    },
    TitlePattern {
        category: INFANTIL,
        templates: &["{} and {}", "{} Meets {}", "{} Finds {}"],
        first: &[
            "Little Max",
            "Ruby",
            "Oliver the Owl",
            "Penny",
            "Captain Sprout",
            "Daisy the Duck",
            "Theo",
            "Milo the Mouse",
            "Hazel",
            "Benji the Bear",
        ],
        second: &[
            "the Blue Dragon",
            "the Wandering Cloud",
            "the Hidden Treasure",
            "the Cheese Moon",
            "the Enchanted Wood",
            "the Talking Tree",
            "the Lost Socks",
            "the Magic Bicycle",
            "the Flea Circus",
            "the Clumsy Robot",
        ],
    },
    TitlePattern {
        category: BIOGRAFIA,
        templates: &[
            "{}: A Life",
            "The Life of {}",
            "{}: A Biography",
            "The Real {}",
            "Portrait of {}",
            "In the Footsteps of {}",
            "Becoming {}",
        ],
        first: &[
            "Ada Lovelace",
            "Charles Darwin",
            "Marie Curie",
            "Winston Churchill",
            "Amelia Earhart",
            "Abraham Lincoln",
            "Florence Nightingale",
            "Alan Turing",
            "Virginia Woolf",
            "Nikola Tesla",
            "Rosalind Franklin",
            "Frederick Douglass",
            "Isaac Newton",
        ],
        second: &[],
    },
];

// Descriptions: one opening that names the book, then optionally a middle and a closing
// sentence. `{title}`, `{author}` and `{label}` (the category in prose) are filled in.
const OPENINGS_ES: &[&str] = &[
    "«{title}», de {author}, es un título imprescindible en la sección de {label}.",
    "En «{title}», {author} demuestra por qué los lectores de {label} siguen su obra con tanta atención.",
    "Con «{title}», {author} firma un libro que ha conquistado por igual a la crítica y a los lectores.",
    "Pocos libros de {label} han dejado tanta huella como «{title}».",
    "«{title}» vuelve a las librerías en una edición cuidada y revisada.",
    "«{title}» es la obra con la que {author} se ganó a los lectores de {label}.",
];
const MIDDLES_ES: &[&str] = &[
    "Una lectura absorbente, escrita con un estilo claro y preciso.",
    "Sus páginas combinan rigor, emoción y un ritmo que no decae.",
    "Cada capítulo abre una puerta nueva sin perder nunca el hilo.",
    "Se lee de un tirón y se recuerda durante años.",
    "Esta edición incluye un prólogo, notas y una breve cronología.",
    "Recomendado por libreros de toda España y de América Latina.",
];
const CLOSINGS_ES: &[&str] = &[
    "Un libro que no puede faltar en ninguna biblioteca.",
    "Perfecto para regalar y para releer con calma.",
    "Imprescindible para los lectores de {label} más exigentes.",
    "Una invitación a seguir pensando mucho después de cerrar el libro.",
    "Ideal tanto para quien se inicia como para quien quiere profundizar.",
];
const OPENINGS_EN: &[&str] = &[
    "“{title}” by {author} is an essential read for anyone who loves {label}.",
    "In “{title}”, {author} shows why readers of {label} keep coming back for more.",
    "With “{title}”, {author} delivers a book that has won over critics and readers alike.",
    "Few books in {label} have left a mark quite like “{title}”.",
    "“{title}” returns in a carefully revised new edition.",
    "“{title}” is the book that made {author} a favourite among readers of {label}.",
];
const MIDDLES_EN: &[&str] = &[
    "A gripping read, written with clarity and precision.",
    "Its pages balance rigour, feeling and a pace that never flags.",
    "Every chapter opens a new door without ever losing the thread.",
    "A book you read in one sitting and remember for years.",
    "This edition includes a foreword, notes and a short chronology.",
    "Recommended by booksellers on both sides of the Atlantic.",
];
const CLOSINGS_EN: &[&str] = &[
    "A book that belongs on every shelf.",
    "Perfect as a gift and for a slow second reading.",
    "A must for the most demanding readers of {label}.",
    "An invitation to keep thinking long after the last page.",
    "Ideal for newcomers and seasoned readers alike.",
];

/// `count` demo books for `seed`: first the real classics (Spanish and English in turn),
/// then generated ones. The same seed and count always give the same books.
pub fn demo_books(seed: u64, count: usize) -> Vec<DemoBook> {
    let mut rng = DemoRng::new(seed);
    let mut titles = HashSet::new();
    let mut isbns = HashSet::new();
    let mut books = Vec::with_capacity(count);
    for (&(title, author, category, year), language) in classics().take(count) {
        titles.insert(title.to_owned());
        let draft = Draft { title: title.to_owned(), author, category: category_of(category), language, year };
        books.push(finish(&mut rng, &mut isbns, draft, true));
    }
    while books.len() < count {
        let language = if rng.chance(SPANISH_PERCENT) { SPANISH } else { ENGLISH };
        let category = pick_category(&mut rng);
        let title = unique_title(&mut rng, &mut titles, language, category.name);
        let author = *rng.pick(if language == SPANISH { AUTHORS_ES } else { AUTHORS_EN });
        let year = if rng.chance(70) { rng.in_range(2000..=2025) } else { rng.in_range(1950..=1999) };
        let draft = Draft { title, author, category, language, year: year as i32 };
        books.push(finish(&mut rng, &mut isbns, draft, false));
    }
    books
}

/// The classics in the order they are loaded: one Spanish, one English, and so on.
fn classics() -> impl Iterator<Item = (&'static Classic, &'static str)> {
    let longest = CLASSICS_ES.len().max(CLASSICS_EN.len());
    (0..longest).flat_map(|i| {
        let spanish = CLASSICS_ES.get(i).map(|classic| (classic, SPANISH));
        let english = CLASSICS_EN.get(i).map(|classic| (classic, ENGLISH));
        spanish.into_iter().chain(english)
    })
}

/// What is known about a book before the generator fills in the rest.
struct Draft {
    title: String,
    author: &'static str,
    category: &'static Category,
    language: &'static str,
    year: i32,
}

fn finish(rng: &mut DemoRng, isbns: &mut HashSet<u64>, draft: Draft, classic: bool) -> DemoBook {
    let Draft { title, author, category, language, year } = draft;
    let spanish = language == SPANISH;
    let editorial = *rng.pick(match (spanish, category.name == PROGRAMACION) {
        (true, true) => TECH_EDITORIALES_ES,
        (true, false) => EDITORIALES_ES,
        (false, true) => TECH_PUBLISHERS_EN,
        (false, false) => PUBLISHERS_EN,
    });
    let description = describe(rng, &title, author, category, spanish);
    let price_cents = price_cents(rng, category);
    let stock = if rng.chance(OUT_OF_STOCK_PERCENT) { 0 } else { rng.in_range(MIN_STOCK..=MAX_STOCK) };
    let pages = rng.in_range(category.pages.clone());
    // Classics earned their place in the window display; generated books spread wider.
    let rating_tenths = if classic {
        rng.in_range(38..=50)
    } else if rng.chance(8) {
        rng.in_range(25..=29)
    } else {
        rng.in_range(30..=49)
    };
    let isbn_body = unique_isbn_body(rng, isbns, spanish);
    DemoBook {
        title,
        author: author.to_owned(),
        category: category.name,
        editorial,
        description,
        price_cents,
        stock: stock as u32,
        publication_year: year,
        language,
        pages: pages as u32,
        rating_tenths: rating_tenths as u8,
        isbn_body,
    }
}

fn category_of(name: &str) -> &'static Category {
    CATEGORIES.iter().find(|category| category.name == name).unwrap_or(&CATEGORIES[0])
}

fn pick_category(rng: &mut DemoRng) -> &'static Category {
    let total: u64 = CATEGORIES.iter().map(|category| category.weight).sum();
    let mut roll = rng.below(total);
    for category in &CATEGORIES {
        if roll < category.weight {
            return category;
        }
        roll -= category.weight;
    }
    &CATEGORIES[0]
}

/// A generated title not in `taken` (and now recorded there).
fn unique_title(rng: &mut DemoRng, taken: &mut HashSet<String>, language: &str, category: &str) -> String {
    for _ in 0..TITLE_ATTEMPTS {
        let title = generated_title(rng, language, category);
        if taken.insert(title.clone()) {
            return title;
        }
    }
    let base = generated_title(rng, language, category);
    let mut volume = 2u32;
    loop {
        let title = format!("{base} (Vol. {volume})");
        if taken.insert(title.clone()) {
            return title;
        }
        volume += 1;
    }
}

fn generated_title(rng: &mut DemoRng, language: &str, category: &str) -> String {
    let patterns = if language == SPANISH { TITLES_ES } else { TITLES_EN };
    let matching: Vec<&TitlePattern> = patterns.iter().filter(|pattern| pattern.category == category).collect();
    let pattern = if matching.is_empty() { rng.pick(patterns) } else { *rng.pick(&matching) };
    let template = *rng.pick(pattern.templates);
    let first = *rng.pick(pattern.first);
    let second = if pattern.second.is_empty() { "" } else { *rng.pick(pattern.second) };
    let title = capitalize_first(&template.replacen("{}", first, 1).replacen("{}", second, 1));
    if language == SPANISH { spanish_contractions(&title) } else { title }
}

fn capitalize_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Spanish writes "del" and "al", never "de el" and "a el" (before a lower-case article).
fn spanish_contractions(text: &str) -> String {
    text.replace(" de el ", " del ").replace(" a el ", " al ")
}

fn describe(rng: &mut DemoRng, title: &str, author: &str, category: &Category, spanish: bool) -> String {
    let (openings, middles, closings, label) = if spanish {
        (OPENINGS_ES, MIDDLES_ES, CLOSINGS_ES, category.label_es)
    } else {
        (OPENINGS_EN, MIDDLES_EN, CLOSINGS_EN, category.label_en)
    };
    let sentences = 1 + rng.below(3);
    let mut parts = vec![*rng.pick(openings)];
    if sentences >= 2 {
        parts.push(*rng.pick(middles));
    }
    if sentences >= 3 {
        parts.push(*rng.pick(closings));
    }
    parts.join(" ").replace("{label}", label).replace("{author}", author).replace("{title}", title)
}

/// A price in cents ending in 95, 00 or 50, inside 5.95..=59.95 for euro ranges of 6..=59.
fn price_cents(rng: &mut DemoRng, category: &Category) -> u32 {
    let euros = rng.in_range(category.euros.clone());
    let cents = match rng.below(4) {
        0 => euros * 100,
        1 => euros * 100 + 50,
        _ => (euros - 1) * 100 + 95,
    };
    cents as u32
}

/// A 12-digit ISBN body not yet in `taken`: 978-84 (Spain) for Spanish books, 978-0 or
/// 978-1 (English-speaking countries) for English ones.
fn unique_isbn_body(rng: &mut DemoRng, taken: &mut HashSet<u64>, spanish: bool) -> u64 {
    loop {
        let body =
            if spanish { 978_840_000_000 + rng.below(10_000_000) } else { 978_000_000_000 + rng.below(200_000_000) };
        if taken.insert(body) {
            return body;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: u64 = 0xb00c_0000;

    fn classic_count() -> usize {
        CLASSICS_ES.len() + CLASSICS_EN.len()
    }

    #[test]
    fn rng_matches_the_reference_splitmix64_sequence() {
        let mut rng = DemoRng::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn rng_below_pick_and_chance_stay_in_bounds() {
        let mut rng = DemoRng::new(42);
        let items = ["a", "b", "c"];
        let mut seen = HashSet::new();
        for _ in 0..1000 {
            assert!(rng.below(7) < 7);
            seen.insert(*rng.pick(&items));
            assert!(!rng.chance(0));
            assert!(rng.chance(100));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(seen.len(), items.len());
    }

    #[test]
    fn same_seed_gives_identical_books() {
        assert_eq!(demo_books(SEED, 1000), demo_books(SEED, 1000));
    }

    #[test]
    fn different_seeds_give_different_books() {
        let first = demo_books(1, 300);
        let second = demo_books(2, 300);
        assert_ne!(first, second);
        let generated_titles =
            |books: &[DemoBook]| books[classic_count()..].iter().map(|b| b.title.clone()).collect::<Vec<_>>();
        assert_ne!(generated_titles(&first), generated_titles(&second));
        let prices = |books: &[DemoBook]| books.iter().map(|b| b.price_cents).collect::<Vec<_>>();
        assert_ne!(prices(&first), prices(&second));
    }

    #[test]
    fn a_thousand_books_have_unique_titles_and_isbn_bodies() {
        for seed in [0, 1, SEED, u64::MAX] {
            let books = demo_books(seed, 1000);
            assert_eq!(books.len(), 1000);
            let titles: HashSet<&str> = books.iter().map(|b| b.title.as_str()).collect();
            assert_eq!(titles.len(), books.len(), "seed {seed}");
            let isbns: HashSet<u64> = books.iter().map(|b| b.isbn_body).collect();
            assert_eq!(isbns.len(), books.len(), "seed {seed}");
        }
    }

    #[test]
    fn every_book_fits_the_catalogue_limits() {
        let known: HashSet<&str> = CATEGORIES.iter().map(|c| c.name).collect();
        for seed in [0, 7, SEED] {
            let books = demo_books(seed, 1000);
            for (n, book) in books.iter().enumerate() {
                let texts = [book.title.as_str(), book.author.as_str(), book.description.as_str(), book.editorial];
                for text in texts {
                    assert!(!text.is_empty(), "{book:?}");
                    assert_eq!(text.trim(), text, "{book:?}");
                    assert!(!text.chars().any(|c| c == '#' || c == '{' || c.is_control()), "{book:?}");
                }
                assert!(book.title.chars().count() <= 300, "{book:?}");
                assert!(book.author.chars().count() <= 100, "{book:?}");
                assert!(book.description.chars().count() <= 5000, "{book:?}");
                assert!(!book.title.contains(" de el ") && !book.title.contains(" a el "), "{book:?}");
                assert!(known.contains(book.category), "{book:?}");
                assert!((595..=5995).contains(&book.price_cents), "{book:?}");
                assert!([95, 0, 50].contains(&(book.price_cents % 100)), "{book:?}");
                assert!(book.stock == 0 || (20..=200).contains(&book.stock), "{book:?}");
                assert!((80..=1200).contains(&book.pages), "{book:?}");
                assert!((25..=50).contains(&book.rating_tenths), "{book:?}");
                assert!(book.language == "es" || book.language == "en", "{book:?}");
                assert_eq!(book.isbn_body / 1_000_000_000, 978, "{book:?}");
                let years = if n < classic_count() { 1605..=2025 } else { 1950..=2025 };
                assert!(years.contains(&book.publication_year), "{book:?}");
            }
        }
    }

    #[test]
    fn descriptions_name_the_book() {
        for book in demo_books(SEED, 1000) {
            assert!(book.description.contains(&book.title), "{book:?}");
        }
    }

    #[test]
    fn a_few_books_are_out_of_stock_and_the_rest_have_at_least_twenty() {
        for seed in [0, 1, SEED] {
            let books = demo_books(seed, 1000);
            let empty = books.iter().filter(|b| b.stock == 0).count();
            assert!((5..=60).contains(&empty), "seed {seed}: {empty} out of stock");
            assert!(books.iter().all(|b| b.stock == 0 || b.stock >= 20));
        }
    }

    #[test]
    fn about_sixty_percent_of_books_are_spanish() {
        for seed in [0, 1, SEED] {
            let spanish = demo_books(seed, 1000).iter().filter(|b| b.language == "es").count();
            assert!((550..=660).contains(&spanish), "seed {seed}: {spanish} in Spanish");
        }
    }

    #[test]
    fn every_famous_book_comes_first_with_its_author() {
        assert!(classic_count() <= 120);
        let books = demo_books(SEED, classic_count());
        for &(title, author, category, year) in CLASSICS_ES.iter().chain(CLASSICS_EN) {
            let book = books.iter().find(|b| b.title == title).expect("classic is loaded");
            assert_eq!((book.author.as_str(), book.category, book.publication_year), (author, category, year));
        }
        for count in [120, 1000] {
            let books = demo_books(SEED, count);
            assert!(books.iter().any(|b| b.title == "Cien años de soledad" && b.author == "Gabriel García Márquez"));
        }
    }

    #[test]
    fn small_counts_give_exactly_that_many_books_starting_with_the_classics() {
        assert!(demo_books(SEED, 0).is_empty());
        let books = demo_books(SEED, 3);
        let titles: Vec<&str> = books.iter().map(|b| b.title.as_str()).collect();
        assert_eq!(titles, ["Cien años de soledad", "Pride and Prejudice", "Don Quijote de la Mancha"]);
    }

    #[test]
    fn every_category_can_be_generated_in_both_languages() {
        for category in &CATEGORIES {
            for patterns in [TITLES_ES, TITLES_EN] {
                assert!(patterns.iter().any(|p| p.category == category.name), "{}", category.name);
            }
            assert!(category.weight > 0);
            assert!(*category.euros.start() >= 6 && *category.euros.end() <= 59, "{}", category.name);
            assert!(*category.pages.start() >= 80 && *category.pages.end() <= 1200, "{}", category.name);
        }
        for pattern in TITLES_ES.iter().chain(TITLES_EN) {
            for template in pattern.templates {
                let slots = template.matches("{}").count();
                assert_eq!(slots, if pattern.second.is_empty() { 1 } else { 2 }, "{template}");
            }
        }
        let names: HashSet<&str> = CATEGORIES.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), 12);
        for &(title, _, category, _) in CLASSICS_ES.iter().chain(CLASSICS_EN) {
            assert!(names.contains(category), "{title}");
        }
    }

    #[test]
    fn demo_tenants_are_the_three_shops() {
        assert_eq!(
            demo_tenants(),
            [("libreria-sol", "Librería Sol"), ("book-haven", "Book Haven"), ("papiro", "Papiro Libros")]
        );
    }
}
